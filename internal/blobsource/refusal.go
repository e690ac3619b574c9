package blobsource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
)

// RefusedError is a storage request refused for a reason that retrying
// does not fix: 401 or 403 on listing, reading, the checkpoint store or the
// done marker, a storage credential that cannot get a token, or a missing
// container. Its message names the storage setting in use (the auth kind
// and where its credential came from) with a hint that fits the kind; it
// never quotes a secret.
type RefusedError struct {
	Op     string // what was refused: "list container x", "read blob y", ...
	Status int    // HTTP status; 0 for a credential that got no token
	Code   string // storage error code (AuthenticationFailed, ...), if any
	// Setting is the storage setting in use, e.g. "--storage-auth key
	// (account key from $NSGFLOW_STORAGE_KEY)".
	Setting string
	Hint    string
	Err     error // the redacted cause
}

func (e *RefusedError) Error() string {
	status := ""
	switch {
	case e.Status != 0 && e.Code != "":
		status = fmt.Sprintf(" (%d %s)", e.Status, e.Code)
	case e.Status != 0:
		status = fmt.Sprintf(" (%d)", e.Status)
	case e.Code != "":
		status = " (" + e.Code + ")"
	}
	if e.Status == 0 && e.Err != nil {
		// A credential that cannot get a token: its own words help.
		return fmt.Sprintf("storage refused to %s with %s: %s (%v)", e.Op, e.Setting, e.Hint, e.Err)
	}
	return fmt.Sprintf("storage refused to %s%s with %s: %s", e.Op, status, e.Setting, e.Hint)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// IsRefusal reports whether err is a refusal that retrying does not fix:
// 401/403 from storage, or a storage credential that cannot get a token for
// good (see IsPermanentCredentialError). Throttling, 5xx, timeouts and
// network errors are not refusals.
func IsRefusal(err error) bool {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden
	}
	return IsPermanentCredentialError(err)
}

// IsPermanentCredentialError reports whether err is a token credential
// failure that cannot heal: the identity platform refused the credential
// (4xx other than 408/429: a wrong client secret, an unknown tenant or
// client), or the credential is unavailable (no az executable, no managed
// identity endpoint, a malformed federated token file, missing settings).
// Token endpoint 5xx, timeouts and network errors are transient.
func IsPermanentCredentialError(err error) bool {
	if err == nil {
		return false
	}
	var af *azidentity.AuthenticationFailedError
	if errors.As(err, &af) {
		if af.RawResponse == nil {
			return false
		}
		c := af.RawResponse.StatusCode
		return c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return false
	}
	return hasType(err, "*azidentity.credentialUnavailableError")
}

// hasType reports whether an error of the named type is in err's chain
// (azidentity's credential-unavailable error is not exported).
func hasType(err error, name string) bool {
	for err != nil {
		if fmt.Sprintf("%T", err) == name {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if hasType(e, name) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

// refusal builds the RefusedError for err on op.
func (s *Source) refusal(op string, err error) *RefusedError {
	var old *RefusedError
	if errors.As(err, &old) {
		return old
	}
	e := &RefusedError{Op: op, Setting: s.cfg.Auth.Describe(s.cfg.name), Err: err}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		e.Status, e.Code = re.StatusCode, re.ErrorCode
	}
	e.Hint = s.cfg.Auth.hint(op, e.Status, e.Code, s.account, s.cfg.name)
	return e
}

// refusals remembers the refusals of a Source and rate-limits their log
// lines: each distinct operation kind is logged at error level at most once
// per refusalLogEvery, the rest at debug, with the count suppressed.
type refusals struct {
	mu       sync.Mutex
	last     *RefusedError
	count    int64
	loggedAt map[string]time.Time
	quiet    map[string]int
}

const refusalLogEvery = time.Minute

// refuse counts and logs a refusal; it returns the error for the caller.
func (s *Source) refuse(op string, err error) *RefusedError {
	e := s.refusal(op, err)
	s.st.refused.Add(1)
	s.ref.mu.Lock()
	s.ref.last = e
	s.ref.count++
	if s.ref.loggedAt == nil {
		s.ref.loggedAt, s.ref.quiet = map[string]time.Time{}, map[string]int{}
	}
	kind, _, _ := strings.Cut(op, " ")
	now := time.Now()
	logIt := now.Sub(s.ref.loggedAt[kind]) >= refusalLogEvery
	quiet := s.ref.quiet[kind]
	if logIt {
		s.ref.loggedAt[kind] = now
		s.ref.quiet[kind] = 0
	} else {
		s.ref.quiet[kind]++
	}
	s.ref.mu.Unlock()
	if logIt {
		args := []any{"err", e.Err}
		if quiet > 0 {
			args = append(args, "similar_refusals_not_logged", quiet)
		}
		s.log.Error(e.Error(), args...)
	} else {
		s.log.Debug(e.Error(), "err", e.Err)
	}
	return e
}

// LastRefusal returns the latest refusal and how many there were; nil if
// none.
func (s *Source) LastRefusal() (*RefusedError, int64) {
	s.ref.mu.Lock()
	defer s.ref.mu.Unlock()
	return s.ref.last, s.ref.count
}

// Describe names the storage setting in use in the user's words: the auth
// kind with the setting that chose it, and where the credential came from
// (Auth.Origin). name maps a plugin key to the user's spelling (a CLI flag);
// nil keeps the key.
func (a *Auth) Describe(name func(string) string) string {
	if name == nil {
		name = func(k string) string { return k }
	}
	m := a.method()
	d := name("storage_auth") + " " + m
	if a.Method == "" {
		d += " (not set: picked from the credential given)"
	}
	if a.Origin != "" {
		d += ", credential from " + a.Origin
	}
	return d
}

// hint says what to check for a refusal, fitting the auth kind.
func (a *Auth) hint(op string, status int, code string, account string, name func(string) string) string {
	if name == nil {
		name = func(k string) string { return k }
	}
	// What the operation needs: SAS permissions and the data role.
	sasPerm, role := "r and l", "Storage Blob Data Reader"
	switch verb, _, _ := strings.Cut(op, " "); verb {
	case "list":
		sasPerm = "l (list)"
	case "read":
		sasPerm = "r (read)"
	case "set":
		sasPerm, role = "w (write) for the done marker", "Storage Blob Data Contributor"
	case "load", "use", "save", "create":
		sasPerm, role = "r, w, c and d for the checkpoint container", "Storage Blob Data Contributor"
	}
	perm := code == string(bloberror.AuthorizationPermissionMismatch) || code == string(bloberror.AuthorizationResourceTypeMismatch) ||
		code == string(bloberror.AuthorizationServiceMismatch)
	switch a.method() {
	case AuthKey:
		return fmt.Sprintf("the account key does not sign for account %s: copy key1 or key2 again (portal: Storage account > Access keys) into %s, and check %s",
			account, name("storage_key"), name("storage_account"))
	case AuthSAS:
		if perm {
			return "the SAS in " + name("storage_sas") + " lacks a permission or resource type: it needs " + sasPerm + " (an account SAS also the container and object resource types)"
		}
		return fmt.Sprintf("the SAS in %s is not valid for account %s, or has expired or not started: create a new one (permissions r, l; w for the done marker)", name("storage_sas"), account)
	case AuthConnectionString:
		return fmt.Sprintf("the AccountKey or SharedAccessSignature in %s does not sign for account %s: copy the connection string again from the portal (Storage account > Access keys)",
			name("storage_connection_string"), account)
	case AuthAnonymous:
		return "the container does not allow anonymous reads: give a key, SAS or identity"
	}
	if status == 0 {
		switch a.method() {
		case AuthCLI:
			return "the Azure CLI cannot give a token: install it and run az login, or choose another " + name("storage_auth")
		case AuthClientSecret:
			return "the identity platform refused the client: check " + name("storage_tenant_id") + ", " + name("storage_client_id") + " and " + name("storage_client_secret")
		case AuthManagedIdentity:
			return "no managed identity answers on this host, or " + name("storage_client_id") + " names one not assigned to it"
		case AuthWorkloadIdentity:
			return "the workload identity cannot get a token: check AZURE_CLIENT_ID, AZURE_TENANT_ID and the file AZURE_FEDERATED_TOKEN_FILE names"
		}
		return "no credential of the default chain can get a token: pick one with " + name("storage_auth")
	}
	if status == http.StatusUnauthorized {
		return "the token was not accepted: check " + name("storage_tenant_id") + " and " + name("storage_cloud") + " (the token must be for this account's tenant and cloud)"
	}
	return "the identity has no data role for this on account " + account + ": grant it " + role + " on the account or container; new role assignments can take a few minutes"
}

// Refusal is the RefusedError for err on op made outside a running Source
// (the checkpoint container created before it starts); nil when err is not
// a refusal. err should be redacted already.
func (c *Config) Refusal(op string, err error) error {
	if !IsRefusal(err) {
		return nil
	}
	e := &RefusedError{Op: op, Setting: c.Auth.Describe(c.name), Err: err}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		e.Status, e.Code = re.StatusCode, re.ErrorCode
	}
	e.Hint = c.Auth.hint(op, e.Status, e.Code, c.Auth.AccountName, c.name)
	return e
}
