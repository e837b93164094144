package hoststats

import (
	"testing"
	"time"
)

// TestAliveExpiryFollowsInterval: alive is written with an expiry of two
// intervals, so the interval a publisher runs with can be read back from the
// state without waiting for a tick; 0 means DefaultInterval.
func TestAliveExpiryFollowsInterval(t *testing.T) {
	obj, st := openStores(t)
	for _, c := range []struct {
		interval, want time.Duration
	}{
		{time.Hour, time.Hour},
		{90 * time.Second, 90 * time.Second},
		{0, DefaultInterval},
	} {
		p, err := New(Options{Objects: obj, States: st, Hostname: "box", Interval: c.interval, Proc: Proc{Root: "testdata/proc"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		s, ok := st.Get("system.host.box.alive")
		p.Close()
		if !ok || s.Val != true || s.ExpireAt-s.TS != 2*c.want.Milliseconds() {
			t.Errorf("interval %v: alive %+v, want an expiry of %v", c.interval, s, 2*c.want)
		}
	}
}
