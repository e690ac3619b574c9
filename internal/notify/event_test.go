package notify

import (
	"encoding/base64"
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	const eg = `{"topic":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct1",` +
		`"subject":"/blobServices/default/containers/insights-logs-flowlogflowevent/blobs/flowLogResourceID=/X/y=2026/m=11/d=26/h=00/m=00/macAddress=00AA/PT1H.json",` +
		`"eventType":"Microsoft.Storage.BlobCreated","eventTime":"2026-11-26T00:05:00.1234567Z","id":"e1",` +
		`"data":{"api":"PutBlockList","eTag":"0x8D1","contentLength":1234,"blobType":"BlockBlob","url":"https://acct1.blob.core.windows.net/c/x","sequencer":"0001"}}`
	const ce = `{"specversion":"1.0","source":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct2",` +
		`"subject":"/blobServices/default/containers/c2/blobs/a/b.json","type":"Microsoft.Storage.BlobCreated","time":"2026-11-26T00:05:00Z","id":"e2",` +
		`"data":{"api":"PutBlockList","contentLength":99}}`
	const noSubject = `{"eventType":"Microsoft.Storage.BlobCreated","id":"e3","data":{"contentLength":5,"url":"https://acct.blob.core.windows.net/c3/p/q.json"}}`
	tests := []struct {
		name, text    string
		wantErr       bool
		account, cont string
		blob, typ     string
		size          int64
		count         int
	}{
		{name: "event grid base64", text: base64.StdEncoding.EncodeToString([]byte(eg)), account: "acct1",
			cont: "insights-logs-flowlogflowevent", blob: "flowLogResourceID=/X/y=2026/m=11/d=26/h=00/m=00/macAddress=00AA/PT1H.json", typ: BlobCreated, size: 1234, count: 1},
		{name: "event grid plain", text: eg, account: "acct1", cont: "insights-logs-flowlogflowevent",
			blob: "flowLogResourceID=/X/y=2026/m=11/d=26/h=00/m=00/macAddress=00AA/PT1H.json", typ: BlobCreated, size: 1234, count: 1},
		{name: "cloudevents", text: ce, account: "acct2", cont: "c2", blob: "a/b.json", typ: BlobCreated, size: 99, count: 1},
		{name: "array", text: "[" + eg + "," + ce + "]", account: "acct1", cont: "insights-logs-flowlogflowevent",
			blob: "flowLogResourceID=/X/y=2026/m=11/d=26/h=00/m=00/macAddress=00AA/PT1H.json", typ: BlobCreated, size: 1234, count: 2},
		{name: "url fallback", text: noSubject, cont: "c3", blob: "p/q.json", typ: BlobCreated, size: 5, count: 1},
		{name: "other type", text: `{"eventType":"Microsoft.Storage.BlobDeleted","id":"x","subject":"s"}`, typ: "Microsoft.Storage.BlobDeleted", count: 1},
		{name: "no length", text: `{"eventType":"Microsoft.Storage.BlobCreated","subject":"/blobServices/default/containers/c/blobs/b","data":{}}`, wantErr: true},
		{name: "no blob", text: `{"eventType":"Microsoft.Storage.BlobCreated","subject":"/x","data":{"contentLength":1}}`, wantErr: true},
		{name: "no type", text: `{"id":"x"}`, wantErr: true},
		{name: "not base64", text: "%%%", wantErr: true},
		{name: "base64 of garbage", text: base64.StdEncoding.EncodeToString([]byte("hello")), wantErr: true},
		{name: "empty", text: "  ", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := Parse(tc.text)
			if tc.wantErr {
				if !errors.Is(err, ErrNotEvent) {
					t.Fatalf("err = %v, want ErrNotEvent", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != tc.count {
				t.Fatalf("%d events, want %d", len(evs), tc.count)
			}
			e := evs[0]
			if e.Type != tc.typ || e.Account != tc.account || e.Container != tc.cont || e.Name != tc.blob || e.Size != tc.size {
				t.Errorf("got %+v", e)
			}
		})
	}
}
