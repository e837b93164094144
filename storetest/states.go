// Package storetest holds the behavioural test suites of the store
// interfaces. Each backend's tests call RunObjects, RunStates and RunFiles
// with a factory that opens an empty store, so every backend passes the
// same tests; backend-specific tests (crash, reopen, disk form) stay beside
// the backend.
package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokerd/brokerd/states"
)

// StatesFactory opens an empty state store for one test and closes it in
// t.Cleanup.
type StatesFactory func(t *testing.T) states.Store

// RunStates runs the state store suite against new stores from open.
func RunStates(t *testing.T, open StatesFactory) {
	tests := []struct {
		name string
		fn   func(*testing.T, StatesFactory)
	}{
		{"SetGetPublish", statesSetGetPublish},
		{"BadInputStoresNothing", statesBadInput},
		{"Delete", statesDelete},
		{"Expire", statesExpire},
		{"ExpireCancelledByLaterWrite", statesExpireCancelled},
		{"ConcurrentWriters", statesConcurrentWriters},
		{"ChangeOrderIsCommitOrder", statesChangeOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

func ptr[T any](v T) *T { return &v }

// stateRecorder collects published changes.
type stateRecorder struct {
	mu sync.Mutex
	ch []states.Change
	c  chan states.Change
}

func watchStates(s states.Store) *stateRecorder {
	r := &stateRecorder{c: make(chan states.Change, 1<<16)}
	s.Watch(func(c states.Change) {
		r.mu.Lock()
		r.ch = append(r.ch, c)
		r.mu.Unlock()
		r.c <- c
	})
	return r
}

func (r *stateRecorder) all() []states.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]states.Change(nil), r.ch...)
}

// next waits for the next change; the timeout only guards against hangs.
func (r *stateRecorder) next(t *testing.T) states.Change {
	t.Helper()
	select {
	case c := <-r.c:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change published")
		return states.Change{}
	}
}

func stateJSON(st *states.State) string { return string(states.AppendJSON(nil, st)) }

// sameState compares what clients see (stores may hand out copies).
func sameState(a, b *states.State) bool {
	if a == nil || b == nil {
		return a == b
	}
	return stateJSON(a) == stateJSON(b) && a.ExpireAt == b.ExpireAt
}

func statesSetGetPublish(t *testing.T, open StatesFactory) {
	s := open(t)
	r := watchStates(s)
	before := time.Now().UnixMilli()
	st, err := s.Set("a.0.x", states.Write{Val: 21.5, HasVal: true, From: "system.adapter.socketio.0", User: "system.user.admin"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Val != 21.5 || st.Ack || st.Q != 0 || st.TS < before || st.LC != st.TS || st.From != "system.adapter.socketio.0" {
		t.Fatalf("state %+v", st)
	}
	got, ok := s.Get("a.0.x")
	if !ok || !sameState(got, st) {
		t.Fatalf("Get = %v %v, want %+v", got, ok, st)
	}
	c := r.next(t)
	if c.ID != "a.0.x" || !sameState(c.State, st) || string(c.JSON) != stateJSON(st) {
		t.Fatalf("change %+v %s", c, c.JSON)
	}
	if _, ok := s.Get("missing"); ok {
		t.Fatal("missing state found")
	}
	if got := s.GetMany([]string{"missing", "a.0.x"}); got[0] != nil || !sameState(got[1], st) {
		t.Fatalf("GetMany = %v", got)
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d", s.Len())
	}

	// ack-only write keeps val and lc.
	time.Sleep(2 * time.Millisecond)
	st2, err := s.Set("a.0.x", states.Write{Ack: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if st2.Val != 21.5 || !st2.Ack || st2.LC != st.LC || st2.TS <= st.TS || st2.From != "" {
		t.Fatalf("ack write %+v (prev %+v)", st2, st)
	}
	if st.Ack {
		t.Fatal("previous state was modified")
	}
	// Values of every JSON type come back as written.
	vals := []any{nil, true, 3.25, "text <&>", map[string]any{"k": []any{1.0, "x"}}}
	for i, v := range vals {
		id := fmt.Sprintf("a.0.v%d", i)
		want, err := s.Set(id, states.Write{Val: v, HasVal: true, Ack: ptr(i%2 == 0), Q: ptr(i), From: "f", User: "u", C: ptr("c")})
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := s.Get(id); !ok || stateJSON(got) != stateJSON(want) {
			t.Fatalf("%s: %s, want %s", id, stateJSON(got), stateJSON(want))
		}
	}
	var ids []string
	s.All(func(id string, _ *states.State) bool { ids = append(ids, id); return true })
	if fmt.Sprint(ids) != "[a.0.v0 a.0.v1 a.0.v2 a.0.v3 a.0.v4 a.0.x]" {
		t.Fatalf("All order %v", ids)
	}
}

// socketSetState is what the socket layer does for setState(id, state).
func socketSetState(s states.Store, id, arg any) error {
	sid, err := states.ParseID(id)
	if err != nil {
		return err
	}
	w, err := states.ParseWrite(arg)
	if err != nil {
		return err
	}
	_, err = s.Set(sid, w)
	return err
}

func statesBadInput(t *testing.T, open StatesFactory) {
	s := open(t)
	r := watchStates(s)
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
		{string(make([]byte, states.MaxIDLen+1)), ok, "The id is too long! Ids are limited to 1024 bytes."},
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
		if _, err := s.Set(id, states.Write{Val: 1.0, HasVal: true}); err == nil || err.Error() != states.ValidateID(id).Error() {
			t.Errorf("Set(%q) = %v", id, err)
		}
		if err := s.Delete(id); err == nil {
			t.Errorf("Delete(%q) accepted", id)
		}
	}
	if s.Len() != 0 || len(r.all()) != 0 {
		t.Fatalf("Len %d, changes %v", s.Len(), r.all())
	}
	// The good argument does store.
	if err := socketSetState(s, "a.0.x", ok); err != nil || s.Len() != 1 {
		t.Fatalf("good write: %v", err)
	}
}

func statesDelete(t *testing.T, open StatesFactory) {
	s := open(t)
	if _, err := s.Set("a.0.x", states.Write{Val: "v", HasVal: true}); err != nil {
		t.Fatal(err)
	}
	r := watchStates(s)
	if err := s.Delete("a.0.x"); err != nil {
		t.Fatal(err)
	}
	if c := r.next(t); c.ID != "a.0.x" || c.State != nil || string(c.JSON) != "null" {
		t.Fatalf("change %+v", c)
	}
	if _, ok := s.Get("a.0.x"); ok || s.Len() != 0 {
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
	st, err := s.Set("a.0.x", states.Write{Val: "v", HasVal: true})
	if err != nil || st.LC != st.TS || s.Len() != 1 {
		t.Fatalf("%+v %v", st, err)
	}
}

func statesExpire(t *testing.T, open StatesFactory) {
	s := open(t)
	r := watchStates(s)
	st, err := s.Set("e.0.x", states.Write{Val: 1.0, HasVal: true, ExpireMS: ptr[int64](20)})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Expire || st.ExpireAt != st.TS+20 {
		t.Fatalf("state %+v", st)
	}
	if got, ok := s.Get("e.0.x"); !ok || !got.Expire {
		t.Fatalf("stored %+v", got)
	}
	c := r.next(t)
	if string(c.JSON) != stateJSON(st) || !strings.Contains(string(c.JSON), `"expire":true`) || strings.Contains(string(c.JSON), "expireAt") {
		t.Fatalf("published %s", c.JSON)
	}
	c = r.next(t)
	if c.ID != "e.0.x" || c.State != nil || string(c.JSON) != "null" {
		t.Fatalf("expiry change %+v", c)
	}
	if time.Now().UnixMilli() < st.ExpireAt {
		t.Fatal("expired before its deadline")
	}
	if _, ok := s.Get("e.0.x"); ok || s.Len() != 0 {
		t.Fatal("state not expired")
	}
}

func statesExpireCancelled(t *testing.T, open StatesFactory) {
	s := open(t)
	r := watchStates(s)
	// Long first deadlines: they must be cancelled, not run out before the
	// second write.
	if _, err := s.Set("e.0.keep", states.Write{Val: 1.0, HasVal: true, Expire: ptr[int64](10)}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Set("e.0.keep", states.Write{Val: 2.0, HasVal: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Expire || st.ExpireAt != 0 {
		t.Fatalf("expire inherited: %+v", st)
	}
	// A re-armed expiry replaces the first one.
	if _, err := s.Set("e.0.rearm", states.Write{Val: 1.0, HasVal: true, Expire: ptr[int64](10)}); err != nil {
		t.Fatal(err)
	}
	rearmed, err := s.Set("e.0.rearm", states.Write{Val: 2.0, HasVal: true, ExpireMS: ptr[int64](30)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Set("e.0.sentinel", states.Write{Val: 1.0, HasVal: true, ExpireMS: ptr[int64](300)}); err != nil {
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
}

func statesConcurrentWriters(t *testing.T, open StatesFactory) {
	s := open(t)
	r := watchStates(s)
	const writers, each = 16, 50
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("c.0.w%d", g%4) // four writers share each id
				if _, err := s.Set(id, states.Write{Val: float64(i), HasVal: true}); err != nil {
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
	// The last published change of every id is the value in memory.
	last := map[string]states.Change{}
	for _, c := range r.all() {
		last[c.ID] = c
	}
	for id, c := range last {
		got, _ := s.Get(id)
		if !sameState(got, c.State) || stateJSON(got) != string(c.JSON) {
			t.Fatalf("%s: memory %+v, last change %s", id, got, c.JSON)
		}
	}
}

// statesChangeOrder writes one id from many goroutines, mixing value writes
// with val-less writes that inherit the value. If changes were published in
// any order other than the order the states were derived (and committed)
// in, an inheriting change would not carry the value of the one before it.
func statesChangeOrder(t *testing.T, open StatesFactory) {
	s := open(t)
	r := watchStates(s)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				w := states.Write{Val: float64(g*1000 + i), HasVal: true}
				if i%2 == 1 {
					w = states.Write{Ack: ptr(true)} // inherits whatever is current
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
			if n == 0 || stateValJSON(c.State) != stateValJSON(changes[n-1].State) {
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
	if !sameState(last.State, final) {
		t.Fatal("last change is not the stored state")
	}
}

func stateValJSON(st *states.State) string {
	b, _ := json.Marshal(st.Val)
	return string(b)
}
