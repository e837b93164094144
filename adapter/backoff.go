package adapter

import (
	"math/rand/v2"
	"time"
)

// Default reconnect delays.
const (
	DefaultReconnectMin = 500 * time.Millisecond
	DefaultReconnectMax = 30 * time.Second
)

// backoff computes reconnect delays: exponential growth from min, capped at
// max, with "equal jitter" (a uniform pick in [d/2, d]) so that many
// adapters restarting with the broker do not reconnect in lockstep.
type backoff struct {
	min, max time.Duration
	rand     func() float64 // [0, 1); rand.Float64 unless a test sets it
}

func newBackoff(min, max time.Duration) backoff {
	if min <= 0 {
		min = DefaultReconnectMin
	}
	if max <= 0 {
		max = DefaultReconnectMax
	}
	if max < min {
		max = min
	}
	return backoff{min: min, max: max, rand: rand.Float64}
}

// ceiling is the un-jittered delay before reconnect attempt n (0-based).
func (b backoff) ceiling(n int) time.Duration {
	d := b.min
	for i := 0; i < n && d < b.max; i++ {
		d *= 2
	}
	if d > b.max || d <= 0 {
		d = b.max
	}
	return d
}

// delay is the jittered delay before attempt n: in [ceiling/2, ceiling].
func (b backoff) delay(n int) time.Duration {
	c := b.ceiling(n)
	half := c / 2
	return half + time.Duration(b.rand()*float64(c-half))
}
