package states

import (
	"encoding/json"
	"errors"
	"fmt"
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

func TestSetGetPublish(t *testing.T) {
	s, db := openStore(t, t.TempDir())
	r := watch(s)
	before := time.Now().UnixMilli()
	st, err := s.Set("a.0.x", Write{Val: 21.5, HasVal: true, From: "system.adapter.socketio.0", User: "system.user.admin"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Val != 21.5 || st.Ack || st.Q != 0 || st.TS < before || st.LC != st.TS || st.From != "system.adapter.socketio.0" {
		t.Fatalf("state %+v", st)
	}
	got, ok := s.Get("a.0.x")
	if !ok || got != st {
		t.Fatalf("Get = %v %v, want the returned pointer", got, ok)
	}
	c := r.next(t)
	if c.ID != "a.0.x" || c.State != st || string(c.JSON) != string(AppendJSON(nil, st)) {
		t.Fatalf("change %+v %s", c, c.JSON)
	}
	if string(diskValue(t, db, "a.0.x")) != string(c.JSON) {
		t.Fatalf("disk %s", diskValue(t, db, "a.0.x"))
	}
	if _, ok := s.Get("missing"); ok {
		t.Fatal("missing state found")
	}
	if got := s.GetMany([]string{"missing", "a.0.x"}); got[0] != nil || got[1] != st {
		t.Fatalf("GetMany = %v", got)
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d", s.Len())
	}

	// ack-only write keeps val and lc.
	time.Sleep(2 * time.Millisecond)
	st2, err := s.Set("a.0.x", Write{Ack: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if st2.Val != 21.5 || !st2.Ack || st2.LC != st.LC || st2.TS <= st.TS || st2.From != "" {
		t.Fatalf("ack write %+v (prev %+v)", st2, st)
	}
	if st.Ack {
		t.Fatal("previous state was modified")
	}
}

// socketSetState is what the socket layer does for setState(id, state).
func socketSetState(s *BoltStore, id, arg any) error {
	sid, err := ParseID(id)
	if err != nil {
		return err
	}
	w, err := ParseWrite(arg)
	if err != nil {
		return err
	}
	_, err = s.Set(sid, w)
	return err
}

func TestBadInputStoresNothing(t *testing.T) {
	s, db := openStore(t, t.TempDir())
	r := watch(s)
	ok := map[string]any{"val": 1.0}
	tests := []struct {
		id, arg any
		want    string
	}{
		{nil, ok, "The id is empty! Please provide a valid id."},
		{"", ok, "The id is empty! Please provide a valid id."},
		{42.0, ok, `The id "42" has an invalid type! Expected "string", received "number".`},
		{"a.b.", ok, `The id "a.b." is invalid. Ids are not allowed to end in "."`},
		{"a.*", ok, `The id "a.*" contains forbidden characters`},
		{string(make([]byte, MaxIDLen+1)), ok, "The id is too long! Ids are limited to 1024 bytes."},
		{"a.0.x", map[string]any{}, "The state contains no properties! At least one property is expected!"},
		{"a.0.x", json.RawMessage(`{"val":1,"foo":2,"bar":3}`), "The state contains the forbidden properties foo, bar!"},
		{"a.0.x", json.RawMessage(`{"val":1,"ack":null}`), `The state property "ack" has the wrong type "object" (should be "boolean")!`},
		{"a.0.x", json.RawMessage(`{"val":1,"ts":"1"}`), `The state property "ts" has the wrong type "string" (should be "number")!`},
		{"a.0.x", json.RawMessage(`{"val":1,"q":null}`), `The state property "q" has the wrong type "object" (should be "number")!`},
		{"a.0.x", json.RawMessage(`{"val":1,"lc":false}`), `The state property "lc" has the wrong type "boolean" (should be "number")!`},
		{"a.0.x", json.RawMessage(`{"val":1,"expire":"5"}`), `The state property "expire" has the wrong type "string" (should be "number")!`},
		{"a.0.x", json.RawMessage(`{"val":1,"from":0}`), `The state property "from" has the wrong type "number" (should be "string")!`},
		{"a.0.x", json.RawMessage(`{"val":1,"c":{}}`), `The state property "c" has the wrong type "object" (should be "string")!`},
		{"a.0.x", json.RawMessage(`{"val":1,"user":true}`), `The state property "user" has the wrong type "boolean" (should be "string")!`},
		{"a.0.x", []any{1.0}, "The state contains the forbidden properties 0!"},
	}
	for _, tt := range tests {
		err := socketSetState(s, tt.id, tt.arg)
		if err == nil || err.Error() != tt.want {
			t.Errorf("setState(%v, %s) = %v, want %q", tt.id, tt.arg, err, tt.want)
		}
	}
	// The store checks ids itself too.
	for _, id := range []string{"", "a.", "a*b", "a\nb"} {
		if _, err := s.Set(id, Write{Val: 1.0, HasVal: true}); err == nil || err.Error() != ValidateID(id).Error() {
			t.Errorf("Set(%q) = %v", id, err)
		}
		if err := s.Delete(id); err == nil {
			t.Errorf("Delete(%q) accepted", id)
		}
	}
	if s.Len() != 0 || len(r.all()) != 0 {
		t.Fatalf("Len %d, changes %v", s.Len(), r.all())
	}
	n := 0
	if err := db.Bolt.View(func(tx *bolt.Tx) error { n = tx.Bucket(Bucket).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d keys on disk", n)
	}
	// The good argument does store.
	if err := socketSetState(s, "a.0.x", ok); err != nil || s.Len() != 1 {
		t.Fatalf("good write: %v", err)
	}
}

func TestDelete(t *testing.T) {
	s, db := openStore(t, t.TempDir())
	if _, err := s.Set("a.0.x", Write{Val: "v", HasVal: true}); err != nil {
		t.Fatal(err)
	}
	r := watch(s)
	if err := s.Delete("a.0.x"); err != nil {
		t.Fatal(err)
	}
	if c := r.next(t); c.ID != "a.0.x" || c.State != nil || string(c.JSON) != "null" {
		t.Fatalf("change %+v", c)
	}
	if _, ok := s.Get("a.0.x"); ok || s.Len() != 0 || diskValue(t, db, "a.0.x") != nil {
		t.Fatal("state still there")
	}
	// Deleting a missing state is no error and still publishes, like ioBroker.
	if err := s.Delete("a.0.none"); err != nil {
		t.Fatal(err)
	}
	if c := r.next(t); c.ID != "a.0.none" || c.State != nil {
		t.Fatalf("change %+v", c)
	}
	// A new value after a delete is a fresh state (lc = ts).
	st, err := s.Set("a.0.x", Write{Val: "v", HasVal: true})
	if err != nil || st.LC != st.TS || s.Len() != 1 {
		t.Fatalf("%+v %v", st, err)
	}
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

func TestExpire(t *testing.T) {
	s, db := openStore(t, t.TempDir())
	r := watch(s)
	st, err := s.Set("e.0.x", Write{Val: 1.0, HasVal: true, ExpireMS: ptr[int64](20)})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Expire || st.ExpireAt != st.TS+20 {
		t.Fatalf("state %+v", st)
	}
	c := r.next(t)
	if string(c.JSON) != string(AppendJSON(nil, st)) || !contains(c.JSON, `"expire":true`) || contains(c.JSON, "expireAt") {
		t.Fatalf("published %s", c.JSON)
	}
	if !contains(diskValue(t, db, "e.0.x"), `"expireAt":`) {
		t.Fatalf("deadline not persisted: %s", diskValue(t, db, "e.0.x"))
	}
	c = r.next(t)
	if c.ID != "e.0.x" || c.State != nil || string(c.JSON) != "null" {
		t.Fatalf("expiry change %+v", c)
	}
	if _, ok := s.Get("e.0.x"); ok || s.Len() != 0 || diskValue(t, db, "e.0.x") != nil {
		t.Fatal("state not expired")
	}
}

func TestExpireCancelledByLaterWrite(t *testing.T) {
	s, _ := openStore(t, t.TempDir())
	r := watch(s)
	// Long first deadlines: they must be cancelled (the heap ends empty), not
	// run out before the second write.
	if _, err := s.Set("e.0.keep", Write{Val: 1.0, HasVal: true, Expire: ptr[int64](10)}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Set("e.0.keep", Write{Val: 2.0, HasVal: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Expire || st.ExpireAt != 0 {
		t.Fatalf("expire inherited: %+v", st)
	}
	// A re-armed expiry replaces the first one.
	if _, err := s.Set("e.0.rearm", Write{Val: 1.0, HasVal: true, Expire: ptr[int64](10)}); err != nil {
		t.Fatal(err)
	}
	rearmed, err := s.Set("e.0.rearm", Write{Val: 2.0, HasVal: true, ExpireMS: ptr[int64](30)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Set("e.0.sentinel", Write{Val: 1.0, HasVal: true, ExpireMS: ptr[int64](60)}); err != nil {
		t.Fatal(err)
	}
	var order []string
	for len(order) < 2 {
		c := r.next(t)
		if c.State != nil {
			continue
		}
		order = append(order, c.ID)
		if c.ID == "e.0.rearm" && time.Now().UnixMilli() < rearmed.ExpireAt {
			t.Fatal("expired before its deadline")
		}
	}
	if fmt.Sprint(order) != "[e.0.rearm e.0.sentinel]" {
		t.Fatalf("expiry order %v", order)
	}
	if got, ok := s.Get("e.0.keep"); !ok || got.Val != 2.0 {
		t.Fatalf("cancelled expiry deleted the state: %v", got)
	}
	s.mu.Lock()
	left := s.exp.h.Len()
	s.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d timers left", left)
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

func TestConcurrentWriters(t *testing.T) {
	s, db := openStore(t, t.TempDir())
	r := watch(s)
	const writers, each = 16, 50
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("c.0.w%d", g%4) // four writers share each id
				if _, err := s.Set(id, Write{Val: float64(i), HasVal: true}); err != nil {
					t.Error(err)
					return
				}
				s.Get(id)
				s.GetMany([]string{id, "c.0.w0"})
			}
		}()
	}
	wg.Wait()
	if got := len(r.all()); got != writers*each {
		t.Fatalf("%d changes, want %d", got, writers*each)
	}
	st := db.Committer.Stats()
	t.Logf("%d ops in %d batches", st.Ops, st.Batches)
	// The last published change of every id is the value in memory and on disk.
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

// TestChangeOrderIsCommitOrder writes one id from many goroutines, mixing
// value writes with val-less writes that inherit the value in memory. If
// changes were published in any order other than the order the states were
// derived (and committed) in, an inheriting change would not carry the value
// of the change just before it.
func TestChangeOrderIsCommitOrder(t *testing.T) {
	s, db := openStore(t, t.TempDir())
	r := watch(s)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				w := Write{Val: float64(g*1000 + i), HasVal: true}
				if i%2 == 1 {
					w = Write{Ack: ptr(true)} // inherits whatever is current
				}
				if _, err := s.Set("o.0.x", w); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	changes := r.all()
	if len(changes) != 320 {
		t.Fatalf("%d changes", len(changes))
	}
	lastSeen := map[int]int{}
	for n, c := range changes {
		if c.State.Ack {
			if n == 0 || !valEqual(c.State.Val, changes[n-1].State.Val) {
				t.Fatalf("change %d inherits %v but follows %v", n, c.State.Val, changes[n-1].State.Val)
			}
			continue
		}
		v := int(c.State.Val.(float64))
		g, i := v/1000, v%1000
		if prev, ok := lastSeen[g]; ok && i <= prev {
			t.Fatalf("writer %d: %d published after %d", g, i, prev)
		}
		lastSeen[g] = i
	}
	final, _ := s.Get("o.0.x")
	last := changes[len(changes)-1]
	if last.State != final || string(diskValue(t, db, "o.0.x")) != string(last.JSON) {
		t.Fatal("last change is not the stored state")
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
	if len(r.all()) != 0 {
		t.Fatalf("failed writes published: %v", r.all())
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
