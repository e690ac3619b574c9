package notify

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// BlobCreated is the event type Event Grid raises when a block list is
// committed (Put Block List, Put Blob, Copy Blob).
const BlobCreated = "Microsoft.Storage.BlobCreated"

// Event is what nsgflow takes from one Microsoft.Storage.BlobCreated event.
type Event struct {
	ID        string
	Type      string
	Account   string // from topic (Event Grid schema) or source (CloudEvents)
	Container string
	Name      string
	// Size is the blob's committed length when the event was raised
	// (data.contentLength): the reader is done with the event once the
	// blob's checkpoint covers it.
	Size int64
	ETag string
	API  string
	Time time.Time
	// Sequencer orders events of one blob (data.sequencer, a hex string
	// compared as a string of equal length).
	Sequencer string
}

// Key is the blob's checkpoint key for account (blobsource.BlobID.Key).
func (e *Event) Key(account string) string { return account + "/" + e.Container + "/" + e.Name }

// wire is the union of Event Grid's own schema and CloudEvents 1.0 as far
// as nsgflow reads them.
type wire struct {
	ID          string `json:"id"`
	Topic       string `json:"topic"`       // Event Grid
	Source      string `json:"source"`      // CloudEvents
	Subject     string `json:"subject"`     // both
	EventType   string `json:"eventType"`   // Event Grid
	Type        string `json:"type"`        // CloudEvents
	EventTime   string `json:"eventTime"`   // Event Grid
	Time        string `json:"time"`        // CloudEvents
	SpecVersion string `json:"specversion"` // CloudEvents
	Data        struct {
		API           string `json:"api"`
		ETag          string `json:"eTag"`
		ContentLength *int64 `json:"contentLength"`
		BlobType      string `json:"blobType"`
		URL           string `json:"url"`
		Sequencer     string `json:"sequencer"`
	} `json:"data"`
}

// ErrNotEvent: the message is not an Event Grid or CloudEvents event (nor
// an array of them), base64-encoded or not.
var ErrNotEvent = errors.New("not an Event Grid event")

// Parse decodes one queue message: Event Grid's storage-queue delivery
// puts one event per message, base64-encoded JSON; plain JSON and arrays
// of events are accepted too. Events of other types are returned with
// their Type so the caller can drop them; an event of type BlobCreated
// without a blob name or length is an error.
func Parse(text string) ([]Event, error) {
	raw := []byte(strings.TrimSpace(text))
	if len(raw) > 0 && raw[0] != '{' && raw[0] != '[' {
		dec, err := base64.StdEncoding.DecodeString(string(raw))
		if err != nil {
			return nil, fmt.Errorf("%w: neither JSON nor base64", ErrNotEvent)
		}
		raw = []byte(strings.TrimSpace(string(dec)))
	}
	var ws []wire
	switch {
	case len(raw) > 0 && raw[0] == '[':
		if err := json.Unmarshal(raw, &ws); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotEvent, err)
		}
	case len(raw) > 0 && raw[0] == '{':
		var w wire
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotEvent, err)
		}
		ws = []wire{w}
	default:
		return nil, fmt.Errorf("%w: empty message", ErrNotEvent)
	}
	out := make([]Event, 0, len(ws))
	for _, w := range ws {
		e, err := w.event()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (w *wire) event() (Event, error) {
	e := Event{ID: w.ID, Type: w.EventType, API: w.Data.API, ETag: w.Data.ETag, Sequencer: w.Data.Sequencer}
	if e.Type == "" {
		e.Type = w.Type
	}
	if e.Type == "" {
		return e, fmt.Errorf("%w: no event type", ErrNotEvent)
	}
	topic := w.Topic
	if topic == "" {
		topic = w.Source
	}
	if i := strings.LastIndex(strings.ToLower(topic), "/storageaccounts/"); i >= 0 {
		e.Account = topic[i+len("/storageaccounts/"):]
	}
	ts := w.EventTime
	if ts == "" {
		ts = w.Time
	}
	if ts != "" {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			e.Time = t
		}
	}
	if e.Type != BlobCreated {
		return e, nil
	}
	var ok bool
	e.Container, e.Name, ok = splitSubject(w.Subject)
	if !ok {
		e.Container, e.Name, ok = splitURL(w.Data.URL)
	}
	if !ok {
		return e, fmt.Errorf("%w: BlobCreated event %s names no blob (subject %q)", ErrNotEvent, w.ID, w.Subject)
	}
	if w.Data.ContentLength == nil || *w.Data.ContentLength < 0 {
		return e, fmt.Errorf("%w: BlobCreated event %s has no data.contentLength", ErrNotEvent, w.ID)
	}
	e.Size = *w.Data.ContentLength
	return e, nil
}

// splitSubject reads /blobServices/default/containers/<c>/blobs/<name>.
func splitSubject(s string) (container, name string, ok bool) {
	const pre = "/blobServices/default/containers/"
	if !strings.HasPrefix(s, pre) {
		return "", "", false
	}
	container, name, ok = strings.Cut(s[len(pre):], "/blobs/")
	return container, name, ok && container != "" && name != ""
}

// splitURL reads https://<account>.blob.<suffix>/<c>/<name> (or a
// path-style URL whose first segment is the account).
func splitURL(s string) (container, name string, ok bool) {
	u, err := url.Parse(s)
	if err != nil || u.Path == "" {
		return "", "", false
	}
	p := strings.TrimPrefix(u.Path, "/")
	if !strings.Contains(u.Host, ".blob.") {
		_, p, _ = strings.Cut(p, "/")
	}
	container, name, ok = strings.Cut(p, "/")
	return container, name, ok && container != "" && name != ""
}
