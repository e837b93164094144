package files

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/groupcommit"
	bolt "go.etcd.io/bbolt"
)

// MaxFileSize bounds one file's content; larger writes fail with ErrTooLarge.
var MaxFileSize = 256 << 20

// Bucket names; keys are "<namespace>\x00<name>" (a namespace never holds a
// NUL after sanitising, a name is refused with one).
var (
	bucketMeta = []byte("files")
	bucketData = []byte("filedata")
)

// NamespaceChecker tells whether a namespace is an object of type "meta";
// the object store satisfies it.
type NamespaceChecker interface {
	IsMeta(ns string) bool
}

// NamespaceFunc adapts a function to NamespaceChecker.
type NamespaceFunc func(ns string) bool

// IsMeta calls f.
func (f NamespaceFunc) IsMeta(ns string) bool { return f(ns) }

// BoltStore is the bbolt implementation of Store.
//
// Metas live in memory (one sorted name index per namespace) and decide every
// check; contents are read from bbolt. A write updates memory under mu,
// enqueues one group-commit op holding content and meta together, and waits
// after unlocking. Names touched by an uncommitted op map to that op's done
// channel in pending, so Read waits for the commit instead of returning
// content older than the meta it has already seen.
type BoltStore struct {
	db     *database.DB
	policy *Policy

	mu      sync.RWMutex
	ns      map[string]*nsIndex
	pending map[string]chan struct{}

	watchMu  sync.RWMutex
	watchers []func(Change)

	now func() int64 // ms clock, replaceable in tests
}

var _ Store = (*BoltStore)(nil)

// Open loads the file index from db. ns decides which namespaces are meta
// objects; defaults returns system.config defaultNewAcl (missing fields fall
// back to admin / administrator / 0x644; defaults may be nil).
func Open(db *database.DB, ns NamespaceChecker, defaults func() acl.File) (*BoltStore, error) {
	if db == nil || ns == nil {
		return nil, errors.New("files: Open needs a database and a namespace checker")
	}
	s := &BoltStore{
		db:      db,
		policy:  NewPolicy(ns, defaults),
		ns:      map[string]*nsIndex{},
		pending: map[string]chan struct{}{},
		now:     func() int64 { return time.Now().UnixMilli() },
	}
	err := db.Bolt.Update(func(tx *bolt.Tx) error {
		mb, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketData); err != nil {
			return err
		}
		return mb.ForEach(func(k, v []byte) error {
			ns, name, ok := splitKey(k)
			if !ok {
				return fmt.Errorf("files: bad key %q", k)
			}
			m := new(Meta)
			if err := json.Unmarshal(v, m); err != nil {
				return fmt.Errorf("files: meta of %s/%s: %w", ns, name, err)
			}
			s.index(ns).put(name, m) // ForEach is sorted: appends
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// SetUserGroups installs the lookup of a user's groups (primary first) that
// Chown uses when no ownerGroup is given. Without it such a Chown fails with
// NoGroupError.
func (s *BoltStore) SetUserGroups(fn func(user string) []string) { s.policy.SetUserGroups(fn) }

// Watch registers fn for every committed content write or delete (markers
// excluded), called in commit order on the committer goroutine; fn must not
// block.
func (s *BoltStore) Watch(fn func(Change)) {
	s.watchMu.Lock()
	s.watchers = append(s.watchers, fn)
	s.watchMu.Unlock()
}

func (s *BoltStore) publish(c Change) {
	s.watchMu.RLock()
	ws := s.watchers
	s.watchMu.RUnlock()
	for _, fn := range ws {
		fn(c)
	}
}

func key(ns, name string) []byte {
	k := make([]byte, 0, len(ns)+1+len(name))
	k = append(k, ns...)
	k = append(k, 0)
	return append(k, name...)
}

func splitKey(k []byte) (ns, name string, ok bool) {
	ns, name, ok = strings.Cut(string(k), "\x00")
	return
}

// index returns the namespace index, creating it; call with mu held.
func (s *BoltStore) index(ns string) *nsIndex {
	x := s.ns[ns]
	if x == nil {
		x = newNSIndex()
		s.ns[ns] = x
	}
	return x
}

// lookup returns the meta of a stored name (files and markers) or nil.
func (s *BoltStore) lookup(ns, name string) *Meta {
	if x := s.ns[ns]; x != nil {
		return x.metas[name]
	}
	return nil
}

// mutation is one key change inside an op.
type mutation struct {
	ns, name string
	meta     *Meta  // nil: delete
	data     []byte // new content (with meta)
	from     string // copy content from this name (rename)
	metaOnly bool   // keep the stored content (chmod/chown)
}

// commit applies muts to memory, enqueues them as one atomic op and waits.
// Call with mu held for writing; it is released here.
func (s *BoltStore) commit(muts []mutation) error {
	done := make(chan struct{})
	x := map[string]*nsIndex{}
	for _, m := range muts {
		ix := x[m.ns]
		if ix == nil {
			ix = s.index(m.ns)
			x[m.ns] = ix
		}
		if m.meta == nil {
			ix.remove(m.name)
		} else {
			ix.put(m.name, m.meta)
		}
		s.pending[string(key(m.ns, m.name))] = done
	}
	for ns, ix := range x {
		if len(ix.names) == 0 {
			delete(s.ns, ns)
		}
	}
	wait := s.db.Committer.Enqueue(groupcommit.Op{
		Apply: func(tx *bolt.Tx) error { return applyMutations(tx, muts) },
		Done:  func(err error) { s.done(muts, done, err) },
	})
	s.mu.Unlock()
	return wait()
}

func applyMutations(tx *bolt.Tx, muts []mutation) error {
	mb, db := tx.Bucket(bucketMeta), tx.Bucket(bucketData)
	// Renames read every source before writing any target.
	copied := make([][]byte, len(muts))
	for i, m := range muts {
		if m.meta != nil && m.from != "" {
			v := db.Get(key(m.ns, m.from))
			if v == nil {
				return fmt.Errorf("files: rename source %s/%s has no content", m.ns, m.from)
			}
			copied[i] = append([]byte{}, v...)
		}
	}
	for i, m := range muts {
		k := key(m.ns, m.name)
		if m.meta == nil {
			if err := mb.Delete(k); err != nil {
				return err
			}
			if err := db.Delete(k); err != nil {
				return err
			}
			continue
		}
		if m.metaOnly && db.Get(k) == nil {
			continue // the file vanished with a failed earlier op
		}
		js, err := json.Marshal(m.meta)
		if err != nil {
			return err
		}
		if err := mb.Put(k, js); err != nil {
			return err
		}
		switch {
		case m.from != "":
			err = db.Put(k, copied[i])
		case !m.metaOnly:
			data := m.data
			if data == nil {
				data = []byte{}
			}
			err = db.Put(k, data)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// done runs after the commit, in commit order: forget the pending marks and
// publish, or revert memory. ErrClosed comes only from Enqueue itself, which
// calls Done synchronously inside commit, with mu already held.
func (s *BoltStore) done(muts []mutation, done chan struct{}, err error) {
	if errors.Is(err, groupcommit.ErrClosed) {
		s.revert(muts, done)
		close(done)
		return
	}
	s.mu.Lock()
	if err != nil {
		s.revert(muts, done)
		s.mu.Unlock()
		close(done)
		return
	}
	s.unmark(muts, done)
	s.mu.Unlock()
	close(done)
	for _, m := range muts {
		if isMarker(m.name) || m.metaOnly {
			continue
		}
		c := Change{Namespace: m.ns, Path: m.name, Deleted: m.meta == nil}
		if m.meta != nil {
			c.Size = m.meta.Size
		}
		s.publish(c)
	}
}

// revert puts memory back to what bbolt holds for every name of a failed op
// that no later op has touched (those still map to done in pending). Call
// with mu held.
func (s *BoltStore) revert(muts []mutation, done chan struct{}) {
	_ = s.db.Bolt.View(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketMeta)
		for _, m := range muts {
			k := key(m.ns, m.name)
			if s.pending[string(k)] != done {
				continue
			}
			var old *Meta
			if v := mb.Get(k); v != nil {
				old = new(Meta)
				if json.Unmarshal(v, old) != nil {
					old = nil
				}
			}
			if old != nil {
				s.index(m.ns).put(m.name, old)
			} else if ix := s.ns[m.ns]; ix != nil {
				ix.remove(m.name)
				if len(ix.names) == 0 {
					delete(s.ns, m.ns)
				}
			}
		}
		return nil
	})
	s.unmark(muts, done)
}

func (s *BoltStore) unmark(muts []mutation, done chan struct{}) {
	for _, m := range muts {
		k := string(key(m.ns, m.name))
		if s.pending[k] == done {
			delete(s.pending, k)
		}
	}
}

// allowed checks op against the acl of name: its file meta when it is a
// file, else (directory, missing, root) the default acl.
func (s *BoltStore) allowed(ns, name string, sub *acl.Subject, op int) bool {
	var m *Meta
	if HasACL(name) {
		m = s.lookup(ns, name)
	}
	return s.policy.Allows(sub, m, op)
}
