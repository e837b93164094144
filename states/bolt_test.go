package states

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/groupcommit"
	bolt "go.etcd.io/bbolt"
)

// openStore opens a store in dir and closes it at the end of the test.
func openStore(t testing.TB, dir string) (*BoltStore, *database.DB) {
	t.Helper()
	db, err := database.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(db)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); db.Close() })
	return s, db
}

func closeStore(s *BoltStore, db *database.DB) { s.Close(); db.Close() }

// recorder collects published changes.
type recorder struct {
	mu sync.Mutex
	ch []Change
	c  chan Change
}

func watch(s *BoltStore) *recorder {
	r := &recorder{c: make(chan Change, 1<<16)}
	s.Watch(func(c Change) {
		r.mu.Lock()
		r.ch = append(r.ch, c)
		r.mu.Unlock()
		r.c <- c
	})
	return r
}

func (r *recorder) all() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Change(nil), r.ch...)
}

// next waits for the next change; the timeout only guards against hangs.
func (r *recorder) next(t *testing.T) Change {
	t.Helper()
	select {
	case c := <-r.c:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change published")
		return Change{}
	}
}

func diskValue(t *testing.T, db *database.DB, id string) []byte {
	t.Helper()
	var v []byte
	if err := db.Bolt.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(Bucket).Get([]byte(id)); b != nil {
			v = append([]byte(nil), b...)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPersistenceAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, db := openStore(t, dir)
	want := map[string]*State{}
	vals := []any{nil, true, 3.25, "text <&>", map[string]any{"k": []any{1.0, "x"}}}
	for i, v := range vals {
		id := fmt.Sprintf("p.0.s%d", i)
		st, err := s.Set(id, Write{Val: v, HasVal: true, Ack: ptr(i%2 == 0), Q: ptr(i), From: "f", User: "u", C: ptr("c")})
		if err != nil {
			t.Fatal(err)
		}
		want[id] = st
	}
	if err := s.Delete("p.0.s0"); err != nil {
		t.Fatal(err)
	}
	delete(want, "p.0.s0")
	closeStore(s, db)

	s, _ = openStore(t, dir)
	if s.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", s.Len(), len(want))
	}
	var ids []string
	s.All(func(id string, got *State) bool {
		ids = append(ids, id)
		if string(AppendJSON(nil, got)) != string(AppendJSON(nil, want[id])) {
			t.Errorf("%s: %s, want %s", id, AppendJSON(nil, got), AppendJSON(nil, want[id]))
		}
		return true
	})
	if fmt.Sprint(ids) != "[p.0.s1 p.0.s2 p.0.s3 p.0.s4]" {
		t.Fatalf("All order %v", ids)
	}
}

func TestExpiredDuringDowntime(t *testing.T) {
	dir := t.TempDir()
	s, db := openStore(t, dir)
	if _, err := s.Set("e.0.gone", Write{Val: 1.0, HasVal: true, ExpireMS: ptr[int64](30)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Set("e.0.later", Write{Val: 1.0, HasVal: true, Expire: ptr[int64](3600)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Set("e.0.soon", Write{Val: 1.0, HasVal: true, ExpireMS: ptr[int64](400)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Set("e.0.plain", Write{Val: 1.0, HasVal: true}); err != nil {
		t.Fatal(err)
	}
	closeStore(s, db)
	time.Sleep(60 * time.Millisecond)

	s, db = openStore(t, dir)
	r := watch(s)
	if _, ok := s.Get("e.0.gone"); ok || diskValue(t, db, "e.0.gone") != nil {
		t.Fatal("state expired during downtime still there")
	}
	for _, id := range []string{"e.0.later", "e.0.plain"} {
		if _, ok := s.Get(id); !ok {
			t.Fatalf("%s lost", id)
		}
	}
	if st, ok := s.Get("e.0.later"); !ok || !st.Expire {
		t.Fatalf("expire marker lost: %+v", st)
	}
	// e.0.soon was re-armed: it disappears later, published.
	c := r.next(t)
	if c.ID != "e.0.soon" || c.State != nil {
		t.Fatalf("change %+v", c)
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d", s.Len())
	}
}

func TestFailedWriteReverts(t *testing.T) {
	s, db := openStore(t, t.TempDir())
	prev, err := s.Set("f.0.x", Write{Val: 1.0, HasVal: true})
	if err != nil {
		t.Fatal(err)
	}
	r := watch(s)
	db.Committer.Close()
	if _, err := s.Set("f.0.x", Write{Val: 2.0, HasVal: true}); !errors.Is(err, groupcommit.ErrClosed) {
		t.Fatalf("Set on a closed DB = %v", err)
	}
	if _, err := s.Set("f.0.new", Write{Val: 2.0, HasVal: true}); !errors.Is(err, groupcommit.ErrClosed) {
		t.Fatalf("Set on a closed DB = %v", err)
	}
	if err := s.Delete("f.0.x"); !errors.Is(err, groupcommit.ErrClosed) {
		t.Fatalf("Delete on a closed DB = %v", err)
	}
	if got, _ := s.Get("f.0.x"); got != prev {
		t.Fatalf("memory not reverted: %+v", got)
	}
	if _, ok := s.Get("f.0.new"); ok || s.Len() != 1 {
		t.Fatalf("failed new state visible, Len %d", s.Len())
	}
	// Changes are published when applied; each failed one is followed by
	// the reverted value, so a subscriber ends with what readers see.
	want := []string{`f.0.x 2`, `f.0.x 1`, `f.0.new 2`, `f.0.new null`, `f.0.x null`, `f.0.x 1`}
	var got []string
	for _, c := range r.all() {
		v := "null"
		if c.State != nil {
			v = fmt.Sprint(c.State.Val)
			if !strings.Contains(string(c.JSON), `"val":`+v) {
				t.Fatalf("JSON %s does not carry %s", c.JSON, v)
			}
		} else if string(c.JSON) != "null" {
			t.Fatalf("deletion published as %s", c.JSON)
		}
		got = append(got, c.ID+" "+v)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("published %v, want %v", got, want)
	}
}

// TestDiskForm: what bbolt holds is what was published; the deadline of an
// expiring state is persisted, refused writes store nothing. (The
// behaviour itself is tested by storetest.RunStates.)
func TestDiskForm(t *testing.T) {
	s, db := openStore(t, t.TempDir())
	r := watch(s)
	st, err := s.Set("a.0.x", Write{Val: 21.5, HasVal: true})
	if err != nil {
		t.Fatal(err)
	}
	c := r.next(t)
	if c.State != st || string(diskValue(t, db, "a.0.x")) != string(c.JSON) {
		t.Fatalf("disk %s, change %s", diskValue(t, db, "a.0.x"), c.JSON)
	}
	if got, _ := s.Get("a.0.x"); got != st {
		t.Fatal("Get does not share the stored pointer")
	}
	if _, err := s.Set("e.0.x", Write{Val: 1.0, HasVal: true, Expire: ptr[int64](3600)}); err != nil {
		t.Fatal(err)
	}
	if !contains(diskValue(t, db, "e.0.x"), `"expireAt":`) {
		t.Fatalf("deadline not persisted: %s", diskValue(t, db, "e.0.x"))
	}
	if _, err := s.Set("a.*", Write{Val: 1.0, HasVal: true}); err == nil {
		t.Fatal("bad id accepted")
	}
	if err := s.Delete("a.0.x"); err != nil || diskValue(t, db, "a.0.x") != nil {
		t.Fatalf("delete left %s (%v)", diskValue(t, db, "a.0.x"), err)
	}
	n := 0
	if err := db.Bolt.View(func(tx *bolt.Tx) error { n = tx.Bucket(Bucket).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d keys on disk", n)
	}
}

// TestExpireTimersCancelled: rewritten expiring states leave no timer behind.
func TestExpireTimersCancelled(t *testing.T) {
	s, _ := openStore(t, t.TempDir())
	for i := range 3 {
		if _, err := s.Set("e.0.keep", Write{Val: float64(i), HasVal: true, Expire: ptr[int64](10)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Set("e.0.keep", Write{Val: 9.0, HasVal: true}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	left := s.exp.h.Len()
	s.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d timers left", left)
	}
}

// TestConcurrentWritersOnDisk: the last published change of every id is on
// disk, and concurrent writes share commits.
func TestConcurrentWritersOnDisk(t *testing.T) {
	s, db := openStore(t, t.TempDir())
	r := watch(s)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if _, err := s.Set(fmt.Sprintf("c.0.w%d", g%4), Write{Val: float64(i), HasVal: true}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := db.Committer.Stats()
	t.Logf("%d ops in %d batches", st.Ops, st.Batches)
	last := map[string]Change{}
	for _, c := range r.all() {
		last[c.ID] = c
	}
	for id, c := range last {
		got, _ := s.Get(id)
		if got != c.State || string(diskValue(t, db, id)) != string(c.JSON) {
			t.Fatalf("%s: memory %+v, disk %s, last change %s", id, got, diskValue(t, db, id), c.JSON)
		}
	}
}

func contains(b []byte, sub string) bool { return len(sub) == 0 || indexOf(string(b), sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
