package loadtest

import (
	"context"
	"time"
)

// Pacer spreads operations evenly at a fixed rate on an open-loop schedule:
// operation n is due at start + n/rate. A sender that falls behind gets the
// missed operations at once (up to MaxBurst) instead of slowing the schedule
// down, so the offered load does not silently drop when the server is slow.
type Pacer struct {
	start    time.Time
	interval time.Duration // between two operations; 0 = unpaced
	issued   uint64
	// MaxBurst bounds how many overdue operations Due returns at once; the
	// rest of the backlog is dropped from the schedule (and counted in Skipped).
	MaxBurst int
	Skipped  uint64
}

// NewPacer paces rate operations per second starting at start; rate <= 0
// means no pacing (Due always returns MaxBurst).
func NewPacer(start time.Time, rate float64) *Pacer {
	p := &Pacer{start: start, MaxBurst: 1000}
	if rate > 0 {
		p.interval = time.Duration(float64(time.Second) / rate)
		if p.interval <= 0 {
			p.interval = 1
		}
	}
	return p
}

// Due returns how many operations are due at now (and marks them issued) and
// when the next one becomes due.
func (p *Pacer) Due(now time.Time) (n int, next time.Time) {
	if p.interval == 0 {
		return p.MaxBurst, now
	}
	elapsed := now.Sub(p.start)
	if elapsed < 0 {
		return 0, p.start
	}
	target := uint64(elapsed/p.interval) + 1 // operations due by now, including the one at start
	if target > p.issued {
		d := target - p.issued
		if d > uint64(p.MaxBurst) {
			p.Skipped += d - uint64(p.MaxBurst)
			p.issued = target - uint64(p.MaxBurst)
			d = uint64(p.MaxBurst)
		}
		n = int(d)
		p.issued += d
	}
	return n, p.start.Add(time.Duration(p.issued) * p.interval)
}

// Wait blocks until at least one operation is due and returns how many are;
// it returns 0 when ctx ends first.
func (p *Pacer) Wait(ctx context.Context) int {
	for {
		n, next := p.Due(time.Now())
		if n > 0 {
			return n
		}
		d := time.Until(next)
		if d <= 0 {
			continue
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0
		case <-t.C:
		}
	}
}
