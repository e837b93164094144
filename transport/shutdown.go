package transport

import (
	"context"
	"time"
)

// Shutdown lets every connection finish what it already received — queued
// commands run, pipelined writes reach the disk, their acks are written —
// then disconnects everyone. It gives up waiting when ctx ends.
func (s *Server) Shutdown(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !s.drained() {
		select {
		case <-ctx.Done():
			s.log.Warn("shutdown: clients not drained in time, closing anyway")
			s.Close()
			return
		case <-t.C:
		}
	}
	s.Close()
}

// drained reports whether no connection has commands, durable waits or
// frames pending.
func (s *Server) drained() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.in.len() > 0 || len(c.durable) > 0 || c.out.pending() > 0 {
			return false
		}
	}
	return true
}
