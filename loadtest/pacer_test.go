package loadtest

import (
	"context"
	"testing"
	"time"
)

func TestPacerSchedule(t *testing.T) {
	start := time.Unix(1000, 0)
	p := NewPacer(start, 1000) // one per ms
	tests := []struct {
		at       time.Duration
		want     int
		nextWant time.Duration
	}{
		{-time.Millisecond, 0, 0},
		{0, 1, time.Millisecond},
		{500 * time.Microsecond, 0, time.Millisecond},
		{time.Millisecond, 1, 2 * time.Millisecond},
		{10*time.Millisecond + 1, 9, 11 * time.Millisecond}, // catches up on the backlog
		{10 * time.Millisecond, 0, 11 * time.Millisecond},
	}
	for _, tc := range tests {
		n, next := p.Due(start.Add(tc.at))
		if n != tc.want || next != start.Add(tc.nextWant) {
			t.Fatalf("at %v: got %d next %v, want %d next %v", tc.at, n, next.Sub(start), tc.want, tc.nextWant)
		}
	}
}

func TestPacerBurstLimit(t *testing.T) {
	start := time.Unix(0, 0)
	p := NewPacer(start, 1000)
	p.MaxBurst = 10
	n, _ := p.Due(start.Add(time.Second))
	if n != 10 || p.Skipped != 991 {
		t.Fatalf("n=%d skipped=%d", n, p.Skipped)
	}
	if n, _ := p.Due(start.Add(time.Second)); n != 0 {
		t.Fatalf("backlog not dropped: %d", n)
	}
}

func TestPacerTotalMatchesRate(t *testing.T) {
	start := time.Unix(0, 0)
	p := NewPacer(start, 2000)
	total := 0
	for at := time.Duration(0); at < time.Second; at += 3 * time.Millisecond {
		n, _ := p.Due(start.Add(at))
		total += n
	}
	if total < 1990 || total > 2000 {
		t.Fatalf("issued %d in 1s at 2000/s", total)
	}
}

func TestPacerUnpacedAndWait(t *testing.T) {
	p := NewPacer(time.Now(), 0)
	if n, _ := p.Due(time.Now()); n != p.MaxBurst {
		t.Fatalf("unpaced Due = %d", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q := NewPacer(time.Now().Add(time.Hour), 1)
	if n := q.Wait(ctx); n != 0 {
		t.Fatalf("Wait after cancel = %d", n)
	}
	r := NewPacer(time.Now(), 1e6)
	if n := r.Wait(context.Background()); n < 1 {
		t.Fatalf("Wait = %d", n)
	}
}
