package emulator

import (
	"math/rand/v2"
	"sync"
)

// faultPicker draws the fault for each API request from a seeded RNG, so a
// sequence of requests sees the same faults for the same seed.
type faultPicker struct {
	mu   sync.Mutex
	f    Faults
	rng  *rand.Rand
	seen int
}

func newFaultPicker(f Faults) *faultPicker {
	seed := uint64(f.Seed)
	return &faultPicker{f: f, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// draw returns the exclusive fault (or FaultNone) and whether to delay.
func (p *faultPicker) draw() (FaultKind, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen++
	// Two draws per request, always, so one share does not shift another's
	// sequence.
	x, y := p.rng.Float64(), p.rng.Float64()
	slow := y < p.f.Slow
	if p.seen <= p.f.FailFirst {
		return p.f.FailFirstKind, slow
	}
	for _, c := range []struct {
		share float64
		kind  FaultKind
	}{
		{p.f.TooManyRequests, Fault429},
		{p.f.InternalError, Fault500},
		{p.f.Unavailable, Fault503},
		{p.f.Reset, FaultReset},
		{p.f.DropAfterAccept, FaultDropAfterAccept},
	} {
		if x < c.share {
			return c.kind, slow
		}
		x -= c.share
	}
	return FaultNone, slow
}
