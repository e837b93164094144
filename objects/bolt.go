package objects

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/groupcommit"
	"github.com/google/btree"
	bolt "go.etcd.io/bbolt"
)

// Bucket is the bbolt bucket holding objects: key id, value JSON.
const Bucket = "objects"

// BoltStore is the bbolt-backed Store. Everything lives in memory (raw JSON
// plus parsed Meta); bbolt is written through the shared group committer.
type BoltStore struct {
	db *database.DB

	mu      sync.RWMutex
	m       map[string]*entry
	all     *btree.BTreeG[*entry]            // every object, UTF-16 id order
	byType  map[string]*btree.BTreeG[*entry] // per type
	custom  *btree.BTreeG[*entry]            // states with a truthy common.custom
	enums   map[string]*entry                // enum objects, for member cleanup
	defACL  *DefaultACL                      // system.config common.defaultNewAcl
	watchMu sync.Mutex
	watch   atomic.Pointer[[]func(Change)]
}

var _ Store = (*BoltStore)(nil)

// DefaultACL is system.config common.defaultNewAcl.
type DefaultACL struct {
	Owner      string `json:"owner,omitempty"`
	OwnerGroup string `json:"ownerGroup,omitempty"`
	Object     int    `json:"object,omitempty"`
	State      int    `json:"state,omitempty"`
	File       int    `json:"file,omitempty"`
}

func byID(a, b *entry) bool { return CompareUTF16(a.meta.ID, b.meta.ID) < 0 }

func newTree() *btree.BTreeG[*entry] { return btree.NewG(32, byID) }

// slabSize is the chunk size used to copy values out of the bbolt mmap with
// few allocations.
const slabSize = 1 << 20

// Open loads every object of db into memory.
func Open(db *database.DB) (*BoltStore, error) {
	s := &BoltStore{
		db:     db,
		m:      make(map[string]*entry),
		all:    newTree(),
		byType: make(map[string]*btree.BTreeG[*entry]),
		custom: newTree(),
		enums:  make(map[string]*entry),
	}
	type kv struct {
		id string
		v  []byte
	}
	var items []kv
	err := db.Bolt.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(Bucket))
		if err != nil {
			return err
		}
		var slab []byte
		return b.ForEach(func(k, v []byte) error {
			if len(v) > slabSize/8 {
				v = bytes.Clone(v)
			} else {
				if cap(slab)-len(slab) < len(v) {
					slab = make([]byte, 0, slabSize)
				}
				off := len(slab)
				slab = append(slab, v...)
				v = slab[off:len(slab):len(slab)]
			}
			items = append(items, kv{string(k), v})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("objects: load: %w", err)
	}
	// Parse in parallel, index in key order.
	entries := make([]*entry, len(items))
	errs := make([]error, len(items))
	workers := min(runtime.GOMAXPROCS(0), 8)
	var wg sync.WaitGroup
	chunk := (len(items) + workers - 1) / max(workers, 1)
	for w := 0; w < len(items); w += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				entries[i], errs[i] = parseEntry(items[i].id, items[i].v)
			}
		}(w, min(w+chunk, len(items)))
	}
	wg.Wait()
	s.m = make(map[string]*entry, len(items))
	for i, e := range entries {
		if errs[i] != nil {
			return nil, fmt.Errorf("objects: load: object %q: %w", items[i].id, errs[i])
		}
		s.install(e)
	}
	return s, nil
}

func (s *BoltStore) typeTree(t string) *btree.BTreeG[*entry] {
	tr := s.byType[t]
	if tr == nil {
		tr = newTree()
		s.byType[t] = tr
	}
	return tr
}

// install puts e into the map and indexes, replacing any previous entry of
// the same id. Caller holds mu for writing.
func (s *BoltStore) install(e *entry) {
	id := e.meta.ID
	if old := s.m[id]; old != nil {
		s.unindex(old, old.meta.Type != e.meta.Type)
	}
	s.m[id] = e
	s.all.ReplaceOrInsert(e)
	s.typeTree(e.meta.Type).ReplaceOrInsert(e)
	if e.meta.HasCustom {
		s.custom.ReplaceOrInsert(e)
	}
	if e.meta.Type == "enum" {
		s.enums[id] = e
	}
	if id == "system.config" {
		s.defACL = parseDefaultACL(e.raw)
	}
}

// remove drops id from the map and indexes. Caller holds mu for writing.
func (s *BoltStore) remove(id string) {
	old := s.m[id]
	if old == nil {
		return
	}
	s.unindex(old, true)
	delete(s.m, id)
	s.all.Delete(old)
	if id == "system.config" {
		s.defACL = nil
	}
}

func (s *BoltStore) unindex(old *entry, typeToo bool) {
	if typeToo {
		if tr := s.byType[old.meta.Type]; tr != nil {
			tr.Delete(old)
		}
	}
	if old.meta.HasCustom {
		s.custom.Delete(old)
	}
	if old.meta.Type == "enum" {
		delete(s.enums, old.meta.ID)
	}
}

func parseDefaultACL(raw []byte) *DefaultACL {
	var doc struct {
		Common struct {
			DefaultNewACL json.RawMessage `json:"defaultNewAcl"`
		} `json:"common"`
	}
	if json.Unmarshal(raw, &doc) != nil || len(doc.Common.DefaultNewACL) == 0 || doc.Common.DefaultNewACL[0] != '{' {
		return nil
	}
	d := &DefaultACL{}
	_ = eachMember(doc.Common.DefaultNewACL, func(k, v []byte) bool {
		switch {
		case keyIs(k, "owner"):
			d.Owner, _ = rawString(v)
		case keyIs(k, "ownerGroup"):
			d.OwnerGroup, _ = rawString(v)
		case keyIs(k, "object"):
			d.Object = rawInt(v)
		case keyIs(k, "state"):
			d.State = rawInt(v)
		case keyIs(k, "file"):
			d.File = rawInt(v)
		}
		return true
	})
	return d
}

// DefaultNewACL returns a copy of system.config common.defaultNewAcl, nil
// when none is configured (fresh install).
func (s *BoltStore) DefaultNewACL() *DefaultACL {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.defACL == nil {
		return nil
	}
	d := *s.defACL
	return &d
}

// objectAllowed is step B of datamodel.md 4.5: objects without common or
// without acl are open.
func objectAllowed(sub *acl.Subject, m *Meta, op int) bool {
	if sub == nil || sub.Admin || !m.HasCommon {
		return true
	}
	return acl.ObjectAllowed(sub, m.ACL, op)
}

// Get returns a decoded copy of id, nil when missing.
func (s *BoltStore) Get(id string) (Object, error) { return s.GetAs(id, nil) }

// GetAs is Get with the per-object READ check for sub (nil = internal).
func (s *BoltStore) GetAs(id string, sub *acl.Subject) (Object, error) {
	if id == "" {
		return nil, ErrEmptyID
	}
	s.mu.RLock()
	e := s.m[id]
	s.mu.RUnlock()
	if e == nil {
		return nil, nil
	}
	if !objectAllowed(sub, e.meta, acl.Read) {
		return nil, ErrPermission
	}
	return decode(e.raw)
}

func decode(raw []byte) (Object, error) {
	var o Object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	return o, nil
}

// GetRaw returns the stored JSON (shared: do not modify) and its meta.
func (s *BoltStore) GetRaw(id string) (json.RawMessage, *Meta, bool) {
	s.mu.RLock()
	e := s.m[id]
	s.mu.RUnlock()
	if e == nil {
		return nil, nil, false
	}
	return e.raw, e.meta, true
}

// RawResult is one answer of GetMany: Raw nil with Err nil means missing.
type RawResult struct {
	ID   string
	Raw  json.RawMessage
	Meta *Meta
	Err  error // ErrPermission for an unreadable object
}

// GetMany looks up ids in order (getObjects with an id list): unreadable
// objects get Err = ErrPermission, missing ones Raw = nil.
func (s *BoltStore) GetMany(ids []string, sub *acl.Subject) []RawResult {
	out := make([]RawResult, len(ids))
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i, id := range ids {
		out[i].ID = id
		e := s.m[id]
		if e == nil {
			continue
		}
		if !objectAllowed(sub, e.meta, acl.Read) {
			out[i].Err = ErrPermission
			continue
		}
		out[i].Raw, out[i].Meta = e.raw, e.meta
	}
	return out
}

// Range calls fn for every id in [start, end] (inclusive, UTF-16 order).
// fn runs under the read lock: it must not call back into the store's writers.
func (s *BoltStore) Range(start, end string, fn func(id string, m *Meta, raw json.RawMessage) bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ascend(s.all, start, end, func(e *entry) bool { return fn(e.meta.ID, e.meta, e.raw) })
}

// ascend visits tr in [start, end], inclusive.
func ascend(tr *btree.BTreeG[*entry], start, end string, fn func(*entry) bool) {
	if tr == nil {
		return
	}
	visit := func(e *entry) bool {
		if CompareUTF16(e.meta.ID, end) > 0 {
			return false
		}
		return fn(e)
	}
	if start == "" {
		tr.Ascend(visit)
		return
	}
	tr.AscendGreaterOrEqual(&entry{meta: &Meta{ID: start}}, visit)
}

// Keys returns the ids in [start, end] accepted by match (nil = all), sorted.
// Use Range for ACL-filtered listings.
func (s *BoltStore) Keys(match func(string) bool, start, end string) []string {
	var out []string
	s.Range(start, end, func(id string, _ *Meta, _ json.RawMessage) bool {
		if match == nil || match(id) {
			out = append(out, id)
		}
		return true
	})
	return out
}

// Len returns the number of objects.
func (s *BoltStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

// Watch registers fn for every committed change, called in commit order on
// the committer goroutine; fn must not block. A deleted state object arrives
// as Change{Object: nil, Meta.Type: "state"} so the owner of the state store
// can delete its value.
func (s *BoltStore) Watch(fn func(Change)) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	var next []func(Change)
	if p := s.watch.Load(); p != nil {
		next = append(next, *p...)
	}
	next = append(next, fn)
	s.watch.Store(&next)
}

func (s *BoltStore) publish(c Change) {
	if p := s.watch.Load(); p != nil {
		for _, fn := range *p {
			fn(c)
		}
	}
}

// commit persists the replacement old → e (e nil = delete of old) through
// the group committer. Caller holds mu for writing and has already applied
// the change in memory; the returned wait runs after unlocking. On failure
// the in-memory change is reverted unless a later write superseded it.
func (s *BoltStore) commit(id string, old, e *entry) func() error {
	// A closed committer calls Done synchronously inside Enqueue, while we
	// hold mu: such a failure is recorded and reverted here instead.
	var st struct {
		sync.Mutex
		enqueued, failed bool
	}
	op := groupcommit.Op{
		Apply: func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte(Bucket))
			if e == nil {
				return b.Delete([]byte(id))
			}
			return b.Put([]byte(id), e.raw)
		},
		Done: func(err error) {
			if err == nil {
				if e == nil {
					s.publish(Change{ID: id, Meta: old.meta})
				} else {
					s.publish(Change{ID: id, Object: e.raw, Meta: e.meta})
				}
				return
			}
			st.Lock()
			if !st.enqueued {
				st.failed = true
				st.Unlock()
				return
			}
			st.Unlock()
			s.mu.Lock()
			s.revert(id, old, e)
			s.mu.Unlock()
		},
	}
	wait := s.db.Committer.Enqueue(op)
	st.Lock()
	st.enqueued = true
	failed := st.failed
	st.Unlock()
	if failed {
		s.revert(id, old, e)
	}
	return wait
}

// revert undoes old → e unless id was written again since. Caller holds mu.
func (s *BoltStore) revert(id string, old, e *entry) {
	if s.m[id] != e {
		return
	}
	if old != nil {
		s.install(old)
	} else {
		s.remove(id)
	}
}

// RangeType is Range restricted to objects of type typ, walking only that
// type's index (getStates over 100,000 states skips every other object).
func (s *BoltStore) RangeType(typ, start, end string, fn func(id string, m *Meta, raw json.RawMessage) bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ascend(s.byType[typ], start, end, func(e *entry) bool { return fn(e.meta.ID, e.meta, e.raw) })
}
