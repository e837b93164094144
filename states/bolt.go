package states

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/groupcommit"
	bolt "go.etcd.io/bbolt"
)

// Bucket is the bbolt bucket holding one JSON value per state id.
var Bucket = []byte("states")

// nullJSON is Change.JSON of a deletion or expiry.
var nullJSON = json.RawMessage("null")

// BoltStore keeps every state in memory and persists each write through the
// shared group committer before it returns.
//
// Ordering: the new state is computed, put into memory and enqueued under mu,
// so for one id memory order, commit order and Watch order are the same.
type BoltStore struct {
	c *groupcommit.Committer

	mu  sync.RWMutex
	m   map[string]*entry
	n   int // entries with a current value
	exp expiry

	watchers atomic.Pointer[[]func(Change)]
	now      func() time.Time
}

// entry is one id. cur is what readers see (it may not be durable yet);
// durable is the last committed value, what a failed write reverts to.
type entry struct {
	cur     *State
	durable atomic.Pointer[State] // set by Done on the committer goroutine
	item    *expItem              // armed expiry of cur, if any
	gen     uint64                // bumped by every setCur, so a revert knows it is still last
}

var _ Store = (*BoltStore)(nil)

// diskState is the persisted form: the client fields (State's JSON) plus
// the deadline, which State never sends to clients.
type diskState struct {
	State
	ExpireAt int64 `json:"expireAt"`
}

// Open loads all states of db into memory, deletes those whose expiry passed
// while the broker was down (without publishing) and arms the others.
func Open(db *database.DB) (*BoltStore, error) {
	s := &BoltStore{c: db.Committer, m: map[string]*entry{}, now: time.Now}
	exists := false
	db.Bolt.View(func(tx *bolt.Tx) error { exists = tx.Bucket(Bucket) != nil; return nil })
	if !exists {
		if err := db.Bolt.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(Bucket)
			return err
		}); err != nil {
			return nil, fmt.Errorf("states: %w", err)
		}
	}
	nowMS := s.now().UnixMilli()
	var expired [][]byte
	var dec decoder
	err := db.Bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(Bucket)
		// Counting first walks the pages once more but spares the map its
		// growth steps, which cost more.
		s.m = make(map[string]*entry, b.Stats().KeyN)
		return b.ForEach(func(k, v []byte) error {
			st, err := dec.decode(v)
			if err != nil {
				return fmt.Errorf("state %q: %w", k, err)
			}
			if st.ExpireAt != 0 && st.ExpireAt <= nowMS {
				expired = append(expired, slices.Clone(k))
				return nil
			}
			e := &entry{cur: st}
			e.durable.Store(st)
			s.m[string(k)] = e
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("states: load: %w", err)
	}
	s.n = len(s.m)
	if len(expired) > 0 {
		if err := s.c.Submit(groupcommit.Op{Apply: func(tx *bolt.Tx) error {
			b := tx.Bucket(Bucket)
			for _, k := range expired {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}}); err != nil {
			return nil, fmt.Errorf("states: delete expired: %w", err)
		}
	}
	s.exp.init(s)
	for id, e := range s.m {
		if e.cur.ExpireAt != 0 {
			s.exp.arm(id, e)
		}
	}
	go s.exp.run()
	return s, nil
}

// decodeDisk parses a persisted state.
func decodeDisk(v []byte) (*State, error) {
	var d diskState
	if err := json.Unmarshal(v, &d); err != nil {
		return nil, err
	}
	st := &d.State
	st.ExpireAt = d.ExpireAt
	st.Expire = st.Expire || d.ExpireAt != 0
	return st, nil
}

// Close stops the expiry timer. The database is closed by its owner.
func (s *BoltStore) Close() { s.exp.stop() }

// Current returns the value readers see (nil: none).
func (e *entry) Current() *State { return e.cur }

// Get returns the stored state. The pointer is shared and must not be modified.
func (s *BoltStore) Get(id string) (*State, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Lookup(s.m, id)
}

// GetMany returns the states of ids in order, nil for missing ones. The
// pointers are shared and must not be modified.
func (s *BoltStore) GetMany(ids []string) []*State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return LookupMany(s.m, ids)
}

// Len returns the number of states with a value.
func (s *BoltStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.n
}

// All calls fn for every state in id order until fn returns false. It works
// on a snapshot, so fn may call the store.
func (s *BoltStore) All(fn func(id string, s *State) bool) {
	s.mu.RLock()
	snap := TakeSnapshot(s.m, s.n)
	s.mu.RUnlock()
	snap.Each(fn)
}

// Watch registers fn for every change. Changes are published when they are
// applied in memory, in apply order (which is commit order), before they are
// durable: waiting for the fsync put the disk's latency tail into every
// subscriber's delivery (p99 43 ms at 2,000 writes/s on a shared disk, see
// docs/performance.md). Readers of Get already see applied values; a write
// whose commit fails is reverted and the reverted value published again. The
// writer's own acknowledgement still waits for durability. fn runs with the
// store's lock held and must not block or call back into the store;
// Change.JSON is shared by all watchers and must not be modified.
func (s *BoltStore) Watch(fn func(Change)) {
	for {
		old := s.watchers.Load()
		var next []func(Change)
		if old != nil {
			next = slices.Clone(*old)
		}
		next = append(next, fn)
		if s.watchers.CompareAndSwap(old, &next) {
			return
		}
	}
}

func (s *BoltStore) publish(c Change) {
	if ws := s.watchers.Load(); ws != nil {
		for _, fn := range *ws {
			fn(c)
		}
	}
}

// Set applies w to the current state of id (datamodel.md 3.3) and returns
// the new state once it is durable. The id is checked as by ValidateID.
func (s *BoltStore) Set(id string, w Write) (*State, error) {
	st, wait, err := s.SetAsync(id, w)
	if err != nil {
		return nil, err
	}
	if err := wait(); err != nil {
		return nil, err
	}
	return st, nil
}

// SetAsync applies w in memory and enqueues its commit, returning the new
// state and a wait function that blocks until it is durable (and reverts it
// when the commit failed). A connection that pipelines writes calls SetAsync
// in the order the client sent them and acknowledges after wait.
func (s *BoltStore) SetAsync(id string, w Write) (*State, func() error, error) {
	if err := checkID(id); err != nil {
		return nil, nil, err
	}
	now := s.now().UnixMilli()
	key := []byte(id)

	s.mu.Lock()
	e := s.m[id]
	var prev *State
	if e != nil {
		prev = e.cur
	} else {
		e = &entry{}
		s.m[id] = e
	}
	st := NewState(prev, w, now)
	// Encoded once: the disk form is the client JSON unless the state
	// expires (then it carries the deadline too), so both share the bytes.
	disk := appendDisk(make([]byte, 0, 128), st)
	data := json.RawMessage(disk)
	if st.ExpireAt != 0 {
		data = AppendJSON(nil, st)
	}
	gen := s.setCur(id, e, st)
	wait := s.c.Enqueue(groupcommit.Op{
		Apply: func(tx *bolt.Tx) error { return tx.Bucket(Bucket).Put(key, disk) },
		Done: func(err error) {
			if err == nil {
				e.durable.Store(st)
			}
		},
	})
	s.publish(Change{ID: id, State: st, JSON: data})
	s.mu.Unlock()
	return st, func() error {
		if err := wait(); err != nil {
			// Reverted here, not in Done: a closed committer runs Done inline
			// while we still hold mu.
			s.revert(id, e, gen)
			return err
		}
		return nil
	}, nil
}

// Delete removes the state of id and publishes Change{ID: id} once durable.
// A missing state is not an error (and is still published, like ioBroker).
func (s *BoltStore) Delete(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	s.mu.Lock()
	e := s.m[id]
	wait, gen := s.deleteLocked(id, e, false)
	s.mu.Unlock()
	if err := wait(); err != nil {
		if e != nil {
			s.revert(id, e, gen)
		}
		return err
	}
	return nil
}

// deleteLocked empties e (which may be nil) and enqueues the deletion. An
// expiry (nobody waits) reverts a failed deletion from Done, in a goroutine
// because Done may run inline under mu.
func (s *BoltStore) deleteLocked(id string, e *entry, expiry bool) (wait func() error, gen uint64) {
	if e != nil {
		gen = s.setCur(id, e, nil)
	}
	key := []byte(id)
	defer s.publish(Change{ID: id, JSON: nullJSON}) // after Enqueue: a closed committer runs Done inline
	return s.c.Enqueue(groupcommit.Op{
		Apply: func(tx *bolt.Tx) error { return tx.Bucket(Bucket).Delete(key) },
		Done: func(err error) {
			if err != nil {
				if expiry && e != nil {
					go s.revert(id, e, gen)
				}
				return
			}
			if e != nil {
				e.durable.Store(nil)
				s.mu.Lock()
				if e.cur == nil && s.m[id] == e {
					delete(s.m, id)
				}
				s.mu.Unlock()
			}
		},
	}), gen
}

// revert undoes the failed write that set generation gen of e, unless a
// later write already replaced it (that one reverts itself if it fails too),
// and publishes the value readers see again.
func (s *BoltStore) revert(id string, e *entry, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.gen != gen {
		return
	}
	defer func() {
		if e.cur == nil {
			s.publish(Change{ID: id, JSON: nullJSON})
		} else {
			s.publish(Change{ID: id, State: e.cur, JSON: AppendJSON(nil, e.cur)})
		}
	}()
	d := e.durable.Load()
	if d != nil && d.ExpireAt != 0 {
		// Do not spin on a broken disk: retry an overdue expiry a second later.
		if min := s.now().Add(time.Second).UnixMilli(); d.ExpireAt < min {
			c := *d
			c.ExpireAt = min
			d = &c
		}
	}
	s.setCur(id, e, d)
}

// setCur replaces the current value of e, keeping n and the expiry heap in
// step, and returns the new generation of e. Called with mu held.
func (s *BoltStore) setCur(id string, e *entry, st *State) uint64 {
	if (e.cur == nil) != (st == nil) {
		if st == nil {
			s.n--
		} else {
			s.n++
		}
	}
	if e.item != nil {
		s.exp.cancel(e)
	}
	e.cur = st
	if st != nil && st.ExpireAt != 0 {
		s.exp.arm(id, e)
	}
	e.gen++
	return e.gen
}
