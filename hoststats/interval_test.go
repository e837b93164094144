package hoststats

import (
	"testing"
	"time"

	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/states"
)

// TestAliveExpiryFollowsInterval: alive is written with an expiry of two
// intervals, so the interval a publisher runs with can be read back from the
// state without waiting for a tick; 0 means DefaultInterval.
func TestAliveExpiryFollowsInterval(t *testing.T) {
	db, err := database.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	obj, err := objects.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	st, err := states.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { st.Close(); _ = db.Close() }()
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
