package states

import (
	"slices"
	"strings"
)

// Current is implemented by the entries of a store's in-memory id map
// (BoltStore's and the Redis store's), so that Lookup, LookupMany and
// TakeSnapshot answer Get, GetMany and All for both alike.
type Current interface {
	// Current returns the value readers see, nil while the id has none
	// (a deletion not yet durable or not yet delivered).
	Current() *State
}

// Lookup returns the state of id in m. The caller holds the lock guarding
// m; the pointer is shared and must not be modified.
func Lookup[E Current](m map[string]E, id string) (*State, bool) {
	e, ok := m[id]
	if !ok {
		return nil, false
	}
	st := e.Current()
	return st, st != nil
}

// LookupMany returns the states of ids in m in order, nil for missing ones.
// The caller holds the lock guarding m.
func LookupMany[E Current](m map[string]E, ids []string) []*State {
	out := make([]*State, len(ids))
	for i, id := range ids {
		if e, ok := m[id]; ok {
			out[i] = e.Current()
		}
	}
	return out
}

// Snapshot is the states of a store at one moment: taken under the store's
// lock, iterated after it is released, so that All's callback may call the
// store.
type Snapshot []idState

type idState struct {
	id string
	st *State
}

// TakeSnapshot collects the ids of m that hold a value; n is how many do.
// The caller holds the lock guarding m.
func TakeSnapshot[E Current](m map[string]E, n int) Snapshot {
	snap := make(Snapshot, 0, n)
	for id, e := range m {
		if st := e.Current(); st != nil {
			snap = append(snap, idState{id, st})
		}
	}
	return snap
}

// Each calls fn for every state in id order until fn returns false. It sorts
// the snapshot in place.
func (s Snapshot) Each(fn func(id string, st *State) bool) {
	slices.SortFunc(s, func(a, b idState) int { return strings.Compare(a.id, b.id) })
	for _, p := range s {
		if !fn(p.id, p.st) {
			return
		}
	}
}
