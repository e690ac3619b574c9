package loganalytics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

const testClientSecret = "Qx8Q~clientSecretValue-0123456789abcdef"

// leakyCredential fails with a message quoting the client secret, as a
// careless credential might.
type leakyCredential struct{}

func (leakyCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("AADSTS7000215: Invalid client secret provided: " + testClientSecret)
}

// TestSecretsNeverLeak forces every error path of both sinks with secrets
// configured, including servers that echo the secrets back, and asserts no
// error and no log line holds a secret.
func TestSecretsNeverLeak(t *testing.T) {
	secrets := []string{testToken, testSharedKey, "nsgflow-test-shared-key-0123456789abcdef", testClientSecret}
	// Servers echo the secrets of the sink talking to them (echo), as a
	// hostile or buggy endpoint might.
	var echo string
	answers := []func(w http.ResponseWriter, r *request){
		func(w http.ResponseWriter, r *request) {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"code":"Bad","message":"header was %s; %s"}}`, r.Header.Get("Authorization"), echo)
		},
		func(w http.ResponseWriter, r *request) {
			w.WriteHeader(401)
			fmt.Fprint(w, r.Header.Get("Authorization"))
		},
		func(w http.ResponseWriter, r *request) { w.WriteHeader(403); fmt.Fprintf(w, "secrets %s", echo) },
		func(w http.ResponseWriter, r *request) { w.WriteHeader(404); fmt.Fprint(w, echo) },
		func(w http.ResponseWriter, r *request) { w.WriteHeader(413); fmt.Fprint(w, echo) },
		func(w http.ResponseWriter, r *request) { w.WriteHeader(429); fmt.Fprint(w, echo) },
		func(w http.ResponseWriter, r *request) { w.WriteHeader(500); fmt.Fprint(w, echo) },
		func(w http.ResponseWriter, r *request) { w.WriteHeader(503) },
		func(w http.ResponseWriter, r *request) { w.WriteHeader(418); fmt.Fprint(w, echo) },
		func(w http.ResponseWriter, r *request) { resetConn(w) },
	}
	var all strings.Builder
	check := func(what string, rep Report) {
		if rep.Err == nil {
			t.Errorf("%s: no error", what)
			return
		}
		all.WriteString(rep.Err.Error() + "\n")
	}
	for i, answer := range answers {
		rec := newRecorder(t, 204, func(n int, r *request, w http.ResponseWriter) bool { answer(w, r); return true })
		log := &logSink{}
		lc := liConfig(rec.srv.URL, &fakeClock{}, log)
		lc.MaxRetries = 2
		lc.Credential.ClientSecret = testClientSecret
		li, err := NewLogsIngestion(lc)
		if err != nil {
			t.Fatal(err)
		}
		ev := synthEvents(3, 3)
		echo = testToken + " " + testClientSecret
		check(fmt.Sprint("li ", i), li.Send(context.Background(), ev, li.Cut(ev)))
		dcfg := dcConfig(rec.srv.URL, &fakeClock{}, log)
		dcfg.MaxRetries = 2
		dc, err := NewDataCollector(dcfg)
		if err != nil {
			t.Fatal(err)
		}
		echo = testSharedKey + " " + "nsgflow-test-shared-key-0123456789abcdef"
		check(fmt.Sprint("dc ", i), dc.Send(context.Background(), ev, dc.Cut(ev)))
		all.WriteString(log.text())
	}
	// Token failures, deadline, oversize event.
	log := &logSink{}
	lc := liConfig("http://127.0.0.1:1", &fakeClock{}, log)
	lc.MaxRetries = 1
	lc.Credential = CredentialConfig{TokenCredential: leakyCredential{}, ClientSecret: testClientSecret}
	li, err := NewLogsIngestion(lc)
	if err != nil {
		t.Fatal(err)
	}
	ev := synthEvents(3, 3)
	check("token", li.Send(context.Background(), ev, li.Cut(ev)))
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	check("deadline", li.Send(ctx, ev, li.Cut(ev)))
	all.WriteString(log.text())
	// Config errors.
	for _, c := range []DataCollectorConfig{
		{WorkspaceID: testWorkspace, SharedKey: testSharedKey + "!", LogType: "X"},
		{WorkspaceID: testSharedKey, SharedKey: testSharedKey, LogType: "X"},
		{WorkspaceID: testWorkspace, SharedKey: testSharedKey, LogType: "X", Endpoint: "https://x.invalid/?key=" + testSharedKey},
	} {
		if _, err := NewDataCollector(c); err != nil {
			all.WriteString(err.Error() + "\n")
		}
	}
	text := all.String()
	if strings.Count(text, "\n") < 25 {
		t.Fatalf("too little output to judge:\n%s", text)
	}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("secret %.6s... leaked in:\n%s", s, text)
		}
	}
	if !strings.Contains(text, redacted) {
		t.Error("echoed secrets were not visibly redacted")
	}
}
