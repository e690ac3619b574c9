package loganalytics

import (
	"errors"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

var errEnough = errors.New("enough events")

// genEvents fills an Events with want real events: flowgen blobs parsed by
// flowparse and encoded by enc. withRID records each event's target resource.
func genEvents(tb testing.TB, opts flowgen.Options, enc *flowparse.Encoder, want int, withRID bool) *Events {
	tb.Helper()
	ev := &Events{}
	var p flowparse.Parser
	p.OnEvent = func(e *flowparse.Event) {
		if ev.Len() >= want {
			return
		}
		ev.AppendWith(func(b []byte) []byte { return enc.Append(b, e) })
		if withRID {
			ev.SetResourceID(string(e.TargetResource))
		}
	}
	err := flowgen.Generate(opts, func(b *flowgen.Blob) error {
		if err := p.Blob(b.Bytes()); err != nil {
			return err
		}
		if ev.Len() >= want {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		tb.Fatal(err)
	}
	if ev.Len() < want {
		tb.Fatalf("generated %d events, want %d", ev.Len(), want)
	}
	return ev
}

// bigOpts generates wide events: long rule names, IPv6, VNet v4 (the
// largest rows), many resources.
func bigOpts(format flowgen.Format) flowgen.Options {
	return flowgen.Options{Format: format, Seed: 7, Resources: 20, Hours: 4, TuplesPerRecord: 50, Rules: 6, IPv6Share: 0.5, LongRuleNames: true}
}
