package fbin

import (
	"strings"
	"testing"
	"time"
)

// TestQueueConfig: notification mode's keys, their defaults and errors.
func TestQueueConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     MapConfig
		want    QueueConfig
		wantErr string
	}{
		{name: "off", cfg: base(), want: QueueConfig{Visibility: time.Minute, MaxDequeue: 5}},
		{name: "defaults", cfg: with("queue_name", "flowlog-events"),
			want: QueueConfig{Name: "flowlog-events", DeadLetter: "flowlog-events-poison", Visibility: time.Minute, MaxDequeue: 5}},
		{name: "all set", cfg: with("queue_name", "evq", "queue_endpoint", "http://127.0.0.1:10001/devstoreaccount1",
			"queue_dead_letter", "ev-dead", "queue_visibility_timeout", "30s", "queue_max_dequeue", "3", "storage_account", "ev1"),
			want: QueueConfig{Name: "evq", Endpoint: "http://127.0.0.1:10001/devstoreaccount1", DeadLetter: "ev-dead", Visibility: 30 * time.Second, MaxDequeue: 3}},
		{name: "dead letter off", cfg: with("queue_name", "events", "queue_dead_letter", "off"),
			want: QueueConfig{Name: "events", Visibility: time.Minute, MaxDequeue: 5}},
		{name: "bad name", cfg: with("queue_name", "Events_1"), wantErr: "queue_name \"Events_1\" is not a queue name"},
		{name: "bad dead letter", cfg: with("queue_name", "events", "queue_dead_letter", "X"), wantErr: "queue_dead_letter \"X\""},
		{name: "endpoint without queue", cfg: with("queue_endpoint", "http://127.0.0.1:1/a"), wantErr: "apply with queue_name only"},
		{name: "azurite blob endpoint needs queue endpoint", cfg: with("queue_name", "events", "storage_endpoint", "http://127.0.0.1:10000/devstoreaccount1"),
			wantErr: "queue_endpoint is required"},
		{name: "visibility too short", cfg: with("queue_name", "events", "queue_visibility_timeout", "10ms"), wantErr: "queue_visibility_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Queue != tc.want {
				t.Errorf("queue config %+v, want %+v", c.Queue, tc.want)
			}
		})
	}
}
