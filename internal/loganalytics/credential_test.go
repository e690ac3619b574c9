package loganalytics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// TestRefreshTime: a token is replaced two minutes before it expires, or
// halfway through a life shorter than four minutes (never on every call).
func TestRefreshTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		life, after time.Duration
	}{
		{time.Hour, 58 * time.Minute},
		{90 * time.Minute, 88 * time.Minute},
		{4 * time.Minute, 2 * time.Minute},
		{3 * time.Minute, 90 * time.Second},
		{59 * time.Second, 29500 * time.Millisecond},
		{0, 0},
	}
	for _, c := range cases {
		if got := refreshTime(now, now.Add(c.life)).Sub(now); got != c.after {
			t.Errorf("token living %v: refreshed after %v, want %v", c.life, got, c.after)
		}
	}
}

// TestPermanentTokenErrors: credential errors that cannot heal are not
// retried; token endpoint 5xx, throttling, timeouts and network errors are.
func TestPermanentTokenErrors(t *testing.T) {
	authFailed := func(code int) error {
		return &azidentity.AuthenticationFailedError{RawResponse: &http.Response{StatusCode: code}}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"az not installed", azidentity.NewCredentialUnavailableError("AzureCLICredential: executable not found on path"), true},
		{"unavailable, wrapped", fmt.Errorf("token: %w", azidentity.NewCredentialUnavailableError("no managed identity endpoint")), true},
		{"invalid client secret", authFailed(401), true},
		{"unknown tenant", authFailed(400), true},
		{"token endpoint 503", authFailed(503), false},
		{"token endpoint 429", authFailed(429), false},
		{"no response", &azidentity.AuthenticationFailedError{}, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"network", &net.OpError{Op: "dial", Err: errors.New("refused")}, false},
		{"other", errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := isPermanentTokenError(tt.err); got != tt.want {
			t.Errorf("%s: isPermanentTokenError = %v, want %v", tt.name, got, tt.want)
		}
	}
}
