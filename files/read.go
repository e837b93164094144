package files

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/brokerd/brokerd/acl"
	bolt "go.etcd.io/bbolt"
)

// Read returns a copy of the content and the meta of one file after the READ
// check. Content and meta come from one bbolt transaction, so a concurrent
// overwrite is seen entirely or not at all; a write not yet committed is
// waited for.
func (s *BoltStore) Read(ns, name string, sub *acl.Subject) ([]byte, *Meta, error) {
	ns, name, err := s.policy.PrepareExisting(ns, name)
	if err != nil {
		return nil, nil, err
	}
	s.mu.RLock()
	m := s.lookup(ns, name)
	wait := s.pending[string(key(ns, name))]
	s.mu.RUnlock()
	if m == nil {
		if !s.policy.Allows(sub, nil, acl.Read) {
			return nil, nil, ErrPermission
		}
		return nil, nil, ErrNotExists
	}
	if !s.policy.Allows(sub, m, acl.Read) {
		return nil, nil, ErrPermission
	}
	if wait != nil {
		<-wait
	}
	var data []byte
	meta := new(Meta)
	err = s.db.Bolt.View(func(tx *bolt.Tx) error {
		k := key(ns, name)
		mv := tx.Bucket(bucketMeta).Get(k)
		dv := tx.Bucket(bucketData).Get(k)
		if mv == nil || dv == nil {
			return ErrNotExists // deleted meanwhile
		}
		data = append(make([]byte, 0, len(dv)), dv...)
		return json.Unmarshal(mv, meta)
	})
	if err != nil {
		return nil, nil, err
	}
	// Overwritten meanwhile by someone with another acl: check again.
	if !s.policy.Allows(sub, meta, acl.Read) {
		return nil, nil, ErrPermission
	}
	return data, meta, nil
}

// Exists reports whether a file or a folder exists at name, after the READ
// check against the file's acl (or the default acl).
func (s *BoltStore) Exists(ns, name string, sub *acl.Subject) (bool, error) {
	ns, name, err := s.policy.PrepareFile(ns, name)
	if err != nil {
		return false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.allowed(ns, name, sub, acl.Read) {
		return false, ErrPermission
	}
	if isMarker(name) {
		return false, nil
	}
	x := s.ns[ns]
	if x == nil {
		return false, nil
	}
	_, file := x.metas[name]
	return file || x.hasBelow(name), nil
}

// ReadDir lists one level of dir (protocol.md 9): files with their acl and
// the Read/Write flags of the everyone bits (true for admins), folders
// derived from deeper names, markers hidden, files the caller cannot read
// omitted, sorted by name (a file sorts before a folder of the same name).
// A missing folder gives an empty list. ns "" lists the namespaces holding
// files as folders. The rows are shaped by Listing, as in the Redis backend.
func (s *BoltStore) ReadDir(ns, dir string, sub *acl.Subject) ([]Entry, error) {
	if ns == "" {
		return s.namespaces(), nil
	}
	ns, dir, err := s.policy.Prepare(ns, dir)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.allowed(ns, dir, sub, acl.Read) {
		return nil, ErrPermission
	}
	x := s.ns[ns]
	if x == nil {
		return []Entry{}, nil
	}
	n := 0
	x.children(dir, func(string, string, bool) { n++ })
	l := s.policy.NewListing(sub, n)
	x.children(dir, func(name, child string, isDir bool) {
		if isDir {
			l.Folder(child)
			return
		}
		l.File(child, x.metas[name])
	})
	return l.Rows(), nil
}

func (s *BoltStore) namespaces() []Entry {
	s.mu.RLock()
	out := make([]Entry, 0, len(s.ns))
	for ns, x := range s.ns {
		if len(x.names) > 0 {
			out = append(out, Entry{File: ns, IsDir: true})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.File, b.File) })
	return out
}
