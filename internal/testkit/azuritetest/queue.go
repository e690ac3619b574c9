package azuritetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
)

// StartQueue launches Azurite's queue service (node_modules/.bin/azurite-queue,
// or $AZURITE_QUEUE) on a free loopback port, like Start does for blobs.
func StartQueue(tb testing.TB) *Server {
	tb.Helper()
	return StartWith(tb, Options{Queue: true})
}

// LaunchQueue starts the queue service outside a test; the caller must Stop it.
func LaunchQueue() (*Server, error) { return LaunchWith(Options{Queue: true}) }

// QueueClient returns a shared-key client of one queue of the development
// account with few retries.
func (s *Server) QueueClient(name string) *azqueue.QueueClient {
	return s.QueueService().NewQueueClient(name)
}

// QueueService returns a shared-key queue service client.
func (s *Server) QueueService() *azqueue.ServiceClient {
	cred, err := azqueue.NewSharedKeyCredential(Account, Key)
	if err != nil {
		panic(err) // constant, valid key
	}
	opts := &azqueue.ClientOptions{}
	opts.Retry = policy.RetryOptions{MaxRetries: 1, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond}
	c, err := azqueue.NewServiceClientWithSharedKeyCredential(s.Endpoint()+"/", cred, opts)
	if err != nil {
		panic(err) // constant, valid URL
	}
	return c
}

// QueueEndpoint is the path-style queue service URL of the account.
func (s *Server) QueueEndpoint() string { return s.Endpoint() }

func (s *Server) waitQueueReady() error {
	c := s.QueueService()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.GetServiceProperties(ctx, nil)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("azuritetest: Azurite queue on port %d not answering: %v", s.Port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
