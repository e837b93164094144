package objects

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/brokerd/brokerd/database"
)

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
	return s, db
}

func newStore(t testing.TB) *BoltStore {
	t.Helper()
	s, db := openStore(t, t.TempDir())
	t.Cleanup(func() { db.Close() })
	return s
}

// obj decodes a JSON literal into an Object.
func obj(t testing.TB, js string) Object {
	t.Helper()
	var o Object
	if err := json.Unmarshal([]byte(js), &o); err != nil {
		t.Fatalf("bad test JSON %s: %v", js, err)
	}
	return o
}

func mustSet(t testing.TB, s *BoltStore, id, js string) Object {
	t.Helper()
	o, err := s.Set(id, obj(t, js), WriteOptions{})
	if err != nil {
		t.Fatalf("Set %s: %v", id, err)
	}
	return o
}

func mustGet(t testing.TB, s *BoltStore, id string) Object {
	t.Helper()
	o, err := s.Get(id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	if o == nil {
		t.Fatalf("Get %s: missing", id)
	}
	return o
}

// at walks a dotted path through nested maps.
func at(o Object, path ...string) any {
	var cur any = o
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func has(o Object, path ...string) bool {
	var cur any = o
	for i, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		v, ok := m[p]
		if !ok {
			return false
		}
		if i == len(path)-1 {
			return true
		}
		cur = v
	}
	return true
}

func jsonEq(t testing.TB, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(got)
	var g any
	_ = json.Unmarshal(gb, &g)
	wb, _ := json.Marshal(w)
	gb, _ = json.Marshal(g)
	if string(gb) != string(wb) {
		t.Fatalf("got  %s\nwant %s", gb, wb)
	}
}

func errIs(t testing.TB, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %q, got nil", want)
	}
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err.Error(), want)
	}
}

var _ = errors.Is
