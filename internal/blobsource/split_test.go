package blobsource

import "testing"

func TestRecordCut(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"head and two records, second cut", `{"records":[{"time":"a","p":{"x":[1]}},{"time":"b","p":{`, len(`{"records":[{"time":"a","p":{"x":[1]}}`)},
		{"head, key order unknown", `{"records":[{"mac":"a","p":{"x":[1]}},{"mac":"b","p":{`, len(`{"records":[{"mac":"a","p":{"x":[1]}}`)},
		{"comma range: cut before the last full record start", `,{"time":"a"},{"time":"b"},{"ti`, len(`,{"time":"a"}`)},
		{"complete last record waits for the next piece", `,{"time":"a"},{"time":"b"}`, len(`,{"time":"a"}`)},
		{"other key order walks the structure", `,{"mac":"a"},{"mac":"b"},{"m`, len(`,{"mac":"a"},{"mac":"b"}`)},
		{"braces inside strings", `,{"time":"}{\"]","r":"x"},{"x`, len(`,{"time":"}{\"]","r":"x"}`)},
		{"no complete record", `,{"time":"a","p":{"flows":[`, 0},
		{"head only", `{"records":[`, 0},
		{"truncated block then record", `,{"time":"a","p":{"flows":[{"r":"x,{"time":"b"}`, len(`,{"time":"a","p":{"flows":[{"r":"x`)},
		{"category first", `,{"category":"FlowLogFlowEvent","f":{}},{"category":"Flo`, len(`,{"category":"FlowLogFlowEvent","f":{}}`)},
		{"tail stops the walk", `,{"time":"a"}]}`, len(`,{"time":"a"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := recordCut([]byte(tt.in)); got != tt.want {
				t.Fatalf("recordCut(%q) = %d (%q), want %d", tt.in, got, tt.in[:got], tt.want)
			}
		})
	}
}

func BenchmarkRecordCut(b *testing.B) {
	rec := []byte(`,{"time":"2026-11-26T09:00:12.3456789Z","flowLogVersion":4,"flowRecords":{"flows":[{"aclID":"x","flowGroups":[{"rule":"r","flowTuples":["1,2,3,4,5,6,I,B,NX,,,,","1,2,3,4,5,6,I,B,NX,,,,"]}]}]}}`)
	var buf []byte
	for len(buf) < 4<<20 {
		buf = append(buf, rec...)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		recordCut(buf)
	}
}
