package hoststats

import (
	"testing"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/states"
)

func TestPublisher(t *testing.T) {
	obj, st := openStores(t)
	p, err := New(Options{Objects: obj, States: st, Hostname: "box", Interval: 20 * time.Millisecond, Proc: Proc{Root: "testdata/proc"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := obj.GetRaw("system.host.box"); !ok {
		t.Fatal("host object not created")
	}
	for _, n := range Names() {
		o, err := obj.Get("system.host.box." + n)
		if err != nil || o == nil {
			t.Fatalf("object %s: %v", n, err)
		}
		common := o["common"].(map[string]any)
		if o["type"] != "state" || common["read"] != true || common["write"] != false || common["role"] == "" || common["name"] == "" {
			t.Errorf("object %s: %v", n, o)
		}
		_, m, _ := obj.GetRaw("system.host.box." + n)
		if m.ACL == nil || !acl.StateAllowed(&acl.Subject{User: "system.user.someone"}, m.ACL, acl.Read) {
			t.Errorf("object %s must be readable by everyone: %+v", n, m.ACL)
		}
	}
	want := map[string]any{"mem": 75.0, "freemem": 1953.0, "load": 0.52, "uptime": 3601.0, "alive": true, "cpu": 0.0}
	for n, v := range want {
		s, ok := st.Get("system.host.box." + n)
		if !ok || s.Val != v || !s.Ack || s.From != "system.host.box" {
			t.Errorf("%s: %+v, want %v", n, s, v)
		}
	}
	if s, _ := st.Get("system.host.box.alive"); !s.Expire {
		t.Error("alive without expire")
	}
	if u, _ := obj.Get("system.host.box.freemem"); u["common"].(map[string]any)["unit"] != "MB" {
		t.Error("freemem unit")
	}
	time.Sleep(60 * time.Millisecond) // a few intervals
	p.Close()
	if s, _ := st.Get("system.host.box.alive"); s.Val != false {
		t.Errorf("alive after Close: %+v", s)
	}
	// A second start keeps the objects.
	p2, _ := New(Options{Objects: obj, States: st, Hostname: "box", Interval: time.Hour, Proc: Proc{Root: "testdata/proc"}})
	if err := p2.Start(); err != nil {
		t.Fatal(err)
	}
	p2.Close()
}

// openStores opens the objects and states stores on a temporary database,
// closed when the test ends.
func openStores(t *testing.T) (*objects.BoltStore, *states.BoltStore) {
	t.Helper()
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
	t.Cleanup(func() { st.Close(); _ = db.Close() })
	return obj, st
}
