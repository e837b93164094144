package files

import (
	"bytes"

	"github.com/brokerd/brokerd/acl"
)

// Write stores data as one file (datamodel.md 7.5 writeFile): WRITE check
// against the existing meta or the default acl; a new file gets the
// caller's acl, an existing one keeps its acl and createdAt (FileWrite.Meta).
// The MIME type is o.MimeType or detected; the binary flag is always
// detected. data is copied. A file may share its name with a folder (as in
// the Redis backend); readDir then lists both.
func (s *BoltStore) Write(ns, name string, data []byte, text bool, o WriteOptions, sub *acl.Subject) error {
	w, err := s.policy.PrepareWrite(ns, name, len(data), text, o)
	if err != nil {
		return err
	}
	data = bytes.Clone(data)
	if data == nil {
		data = []byte{}
	}
	s.mu.Lock()
	m, err := w.Meta(s.lookup(w.NS, w.Name), sub, s.now)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	return s.commit([]mutation{{ns: w.NS, name: w.Name, meta: m, data: data}})
}

// Mkdir writes the hidden marker dir/_data.json after the WRITE check on
// dir; an existing marker or the namespace root is not an error.
func (s *BoltStore) Mkdir(ns, dir string, sub *acl.Subject) error {
	ns, dir, marker, err := s.policy.PrepareDir(ns, dir)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if !s.allowed(ns, dir, sub, acl.Write) {
		s.mu.Unlock()
		return ErrPermission
	}
	if dir == "" || s.lookup(ns, marker) != nil {
		s.mu.Unlock()
		return nil
	}
	return s.commit([]mutation{{ns: ns, name: marker, meta: s.policy.MarkerMeta(sub, s.now())}})
}

// Unlink deletes the file name, or when no such file exists everything
// below the folder name ("" = the whole namespace). WRITE is checked on the
// file, or on the folder path (default acl). Nothing to delete is not an error.
func (s *BoltStore) Unlink(ns, name string, sub *acl.Subject) error {
	ns, name, err := s.policy.Prepare(ns, name)
	if err != nil {
		return err
	}
	if isMarker(name) {
		return nil
	}
	s.mu.Lock()
	if !s.allowed(ns, name, sub, acl.Write) {
		s.mu.Unlock()
		return ErrPermission
	}
	var muts []mutation
	if s.lookup(ns, name) != nil {
		muts = []mutation{{ns: ns, name: name}}
	} else if x := s.ns[ns]; x != nil {
		for _, n := range x.under(name) {
			muts = append(muts, mutation{ns: ns, name: n})
		}
	}
	if len(muts) == 0 {
		s.mu.Unlock()
		return nil
	}
	return s.commit(muts)
}

// DeleteFile deletes exactly one file after the WRITE check; a missing file
// (or a folder) is ErrNotExists.
func (s *BoltStore) DeleteFile(ns, name string, sub *acl.Subject) error {
	ns, name, err := s.policy.PrepareExisting(ns, name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	m := s.lookup(ns, name)
	if m == nil {
		s.mu.Unlock()
		return ErrNotExists
	}
	if !s.policy.Allows(sub, m, acl.Write) {
		s.mu.Unlock()
		return ErrPermission
	}
	return s.commit([]mutation{{ns: ns, name: name}})
}

// Rename moves a file, or when no such file exists every name below the
// folder oldName; a missing source is not an error. WRITE is checked on the
// source and [GO] on the target (each overwritten file, or the target path's
// default acl), so a rename cannot create what Write could not. A folder
// cannot move into itself or its own parent chain (ErrInvalidParameter).
// Metas move unchanged.
func (s *BoltStore) Rename(ns, oldName, newName string, sub *acl.Subject) error {
	return s.rename(ns, oldName, newName, sub, false)
}

// RenameFile moves exactly one file; a missing source is ErrNotExists.
func (s *BoltStore) RenameFile(ns, oldName, newName string, sub *acl.Subject) error {
	return s.rename(ns, oldName, newName, sub, true)
}

func (s *BoltStore) rename(ns, oldName, newName string, sub *acl.Subject, single bool) error {
	ns, from, to, err := s.policy.PrepareRename(ns, oldName, newName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	x := s.ns[ns]
	file := x != nil && x.metas[from] != nil
	if !file && (single || x == nil || !x.hasBelow(from)) {
		s.mu.Unlock()
		if single {
			return ErrNotExists
		}
		return nil
	}
	if !s.allowed(ns, from, sub, acl.Write) || !s.allowed(ns, to, sub, acl.Write) {
		s.mu.Unlock()
		return ErrPermission
	}
	if from == to {
		s.mu.Unlock()
		return nil
	}
	if file {
		return s.commit([]mutation{{ns: ns, name: to, meta: x.metas[from], from: from}, {ns: ns, name: from}})
	}
	if err := CheckFolderMove(from, to); err != nil {
		s.mu.Unlock()
		return err
	}
	srcs := x.under(from)
	muts := make([]mutation, 0, 2*len(srcs))
	for _, src := range srcs {
		dst := to + src[len(from):]
		if !isMarker(dst) && x.metas[dst] != nil && !s.allowed(ns, dst, sub, acl.Write) {
			s.mu.Unlock()
			return ErrPermission
		}
		muts = append(muts, mutation{ns: ns, name: dst, meta: x.metas[src], from: src})
	}
	for _, src := range srcs {
		muts = append(muts, mutation{ns: ns, name: src})
	}
	return s.commit(muts)
}
