package notify

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/redact"
)

var queueSuffix = map[string]string{
	"": "core.windows.net", "public": "core.windows.net", "azure": "core.windows.net",
	"china": "core.chinacloudapi.cn", "usgov": "core.usgovcloudapi.net",
}

// QueueServiceURL is the queue service of the account: endpoint if set,
// else derived from the blob endpoint (<account>.blob.<suffix> becomes
// <account>.queue.<suffix>), else https://<account>.queue.<suffix>/.
func QueueServiceURL(a blobsource.Auth, endpoint string) (string, error) {
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return "", fmt.Errorf("queue_endpoint %q is not an http(s) URL without query string", redact.String(endpoint))
		}
		return strings.TrimSuffix(u.String(), "/") + "/", nil
	}
	if a.Endpoint != "" {
		u, err := url.Parse(a.Endpoint)
		if err == nil && strings.Contains(u.Host, ".blob.") {
			u.Host = strings.Replace(u.Host, ".blob.", ".queue.", 1)
			u.RawQuery, u.Path = "", "/"
			return u.String(), nil
		}
		return "", errors.New("queue_endpoint is required when storage_endpoint is not https://<account>.blob.<suffix> (Azurite: http://127.0.0.1:10001/devstoreaccount1)")
	}
	suffix, ok := queueSuffix[strings.ToLower(a.Cloud)]
	if !ok {
		return "", fmt.Errorf("storage_cloud %q: want public, china or usgov", a.Cloud)
	}
	if a.AccountName == "" {
		return "", errors.New("storage_account or queue_endpoint is required for the queue")
	}
	return "https://" + a.AccountName + ".queue." + suffix + "/", nil
}

// NewQueueClient builds a client of one queue of the account with the
// storage credentials (key, SAS, connection string or Entra ID: the
// identity needs Storage Queue Data Message Processor on the queue, and
// Storage Queue Data Message Sender on the dead-letter queue). Errors
// never contain a secret.
func NewQueueClient(a blobsource.Auth, endpoint, name string) (*azqueue.QueueClient, error) {
	if name == "" {
		return nil, errors.New("queue name is empty")
	}
	opts := &azqueue.ClientOptions{}
	opts.Retry = a.Retry
	if opts.Retry.MaxRetries == 0 {
		opts.Retry = policy.RetryOptions{MaxRetries: 3, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 10 * time.Second, TryTimeout: time.Minute}
	}
	m := a.MethodName()
	if m == blobsource.AuthConnectionString && endpoint == "" {
		c, err := azqueue.NewQueueClientFromConnectionString(a.ConnectionString, name, opts)
		if err != nil {
			return nil, fmt.Errorf("queue from storage_connection_string: %w", redact.Error(err))
		}
		return c, nil
	}
	svc, err := QueueServiceURL(a, endpoint)
	if err != nil {
		return nil, err
	}
	qURL := svc + url.PathEscape(name)
	switch m {
	case blobsource.AuthKey, blobsource.AuthConnectionString:
		name, key := a.AccountName, a.AccountKey
		if m == blobsource.AuthConnectionString {
			name, key = connField(a.ConnectionString, "AccountName"), connField(a.ConnectionString, "AccountKey")
		}
		cred, err := azqueue.NewSharedKeyCredential(name, key)
		if err != nil {
			return nil, errors.New("the account key is not valid base64 (storage_key)")
		}
		c, err := azqueue.NewQueueClientWithSharedKeyCredential(qURL, cred, opts)
		if err != nil {
			return nil, fmt.Errorf("queue client: %w", redact.Error(err))
		}
		return c, nil
	case blobsource.AuthSAS, blobsource.AuthAnonymous:
		if sas := strings.TrimPrefix(a.SASToken, "?"); sas != "" {
			qURL += "?" + sas
		}
		c, err := azqueue.NewQueueClientWithNoCredential(qURL, opts)
		if err != nil {
			return nil, fmt.Errorf("queue client: %w", redact.Error(err))
		}
		return c, nil
	}
	cred, err := a.TokenCredential()
	if err != nil {
		return nil, err
	}
	c, err := azqueue.NewQueueClient(qURL, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("queue client: %w", redact.Error(err))
	}
	return c, nil
}

// connField returns one field of a connection string.
func connField(cs, key string) string {
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
