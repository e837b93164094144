package adapter

import (
	"testing"
	"time"
)

func TestBackoffCeiling(t *testing.T) {
	b := newBackoff(100*time.Millisecond, time.Second)
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for n, w := range want {
		if got := b.ceiling(n); got != w*time.Millisecond {
			t.Errorf("ceiling(%d) = %v, want %v", n, got, w*time.Millisecond)
		}
	}
	if got := b.ceiling(1 << 20); got != time.Second {
		t.Errorf("ceiling(huge) = %v", got)
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	b := newBackoff(100*time.Millisecond, time.Second)
	for _, r := range []float64{0, 0.5, 0.999999} {
		b.rand = func() float64 { return r }
		for n := 0; n < 8; n++ {
			c := b.ceiling(n)
			d := b.delay(n)
			if d < c/2 || d > c {
				t.Errorf("rand %v: delay(%d) = %v, outside [%v, %v]", r, n, d, c/2, c)
			}
		}
	}
	b.rand = func() float64 { return 0 }
	if d := b.delay(0); d != 50*time.Millisecond {
		t.Errorf("delay(0) with rand 0 = %v", d)
	}
}

func TestBackoffDefaults(t *testing.T) {
	b := newBackoff(0, 0)
	if b.min != DefaultReconnectMin || b.max != DefaultReconnectMax {
		t.Fatalf("defaults %v %v", b.min, b.max)
	}
	b = newBackoff(time.Second, time.Millisecond) // max < min: max raised
	if b.ceiling(5) != time.Second {
		t.Fatalf("ceiling with max < min = %v", b.ceiling(5))
	}
}
