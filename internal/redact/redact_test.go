package redact

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	tests := []struct {
		name, in, keep string
	}{
		{"sas url", `GET http://127.0.0.1:10000/devstoreaccount1/c/b?se=2026&sp=r&sig=abcSECRETdef&sv=2023`, "http://127.0.0.1:10000/devstoreaccount1/c/b?REDACTED"},
		{"quoted url", `Get "https://a.blob.core.windows.net/c?comp=list&sig=abcSECRETdef": dial tcp`, `"https://a.blob.core.windows.net/c?REDACTED"`},
		{"connection string", `bad connection string DefaultEndpointsProtocol=https;AccountName=a;AccountKey=KEYSECRET;`, "AccountKey=REDACTED"},
		{"sas connection string", `BlobEndpoint=x;SharedAccessSignature=sv=2020&sig=SECRET`, "SharedAccessSignature=REDACTED"},
		{"bearer", `Authorization: Bearer eyJSECRET.x.y`, "Bearer REDACTED"},
		{"plain", `no secrets here`, "no secrets here"},
		{"bare jwt", `Echo: you sent eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwcyJ9SECRET.c2lnbmF0dXJlSECRET done`, "you sent REDACTED done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := String(tt.in)
			if strings.Contains(got, "SECRET") {
				t.Errorf("secret left in %q", got)
			}
			if !strings.Contains(got, tt.keep) {
				t.Errorf("String(%q) = %q, want it to contain %q", tt.in, got, tt.keep)
			}
		})
	}
}

func TestErrorKeepsChain(t *testing.T) {
	base := errors.New("GET http://h/c/b?sig=SECRET")
	err := Error(fmt.Errorf("read: %w", base))
	if strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("secret in %q", err)
	}
	if !errors.Is(err, base) {
		t.Fatal("errors.Is lost the wrapped error")
	}
	if Error(nil) != nil {
		t.Fatal("Error(nil) != nil")
	}
}
