package fbout

// inflightCount is the number of flushes running.
func (p *Pipeline) inflightCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inflight
}
