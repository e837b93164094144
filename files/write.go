package files

import (
	"bytes"
	"strings"

	"github.com/brokerd/brokerd/acl"
)

// Write stores data as one file (datamodel.md 7.5 writeFile): WRITE check
// against the existing meta or the default acl; a new file gets the
// caller's acl (newACL), an existing one keeps its acl and createdAt. The
// MIME type is o.MimeType or detected; the binary flag is always detected.
// data is copied. A file may share its name with a folder (as in the Redis
// backend); readDir then lists both.
func (s *BoltStore) Write(ns, name string, data []byte, text bool, o WriteOptions, sub *acl.Subject) error {
	ns, name, err := s.prepareFile(ns, name)
	if err != nil {
		return err
	}
	if isMarker(name) {
		return ErrPermission
	}
	if len(data) > MaxFileSize {
		return tooLarge(len(data))
	}
	if o.Mode < 0 || o.Mode > 0xfff {
		return ErrInvalidParameter
	}
	mt, bin := DetectMime(name, text)
	if o.MimeType != "" {
		mt = o.MimeType
	}
	data = bytes.Clone(data)
	if data == nil {
		data = []byte{}
	}
	s.mu.Lock()
	old := s.lookup(ns, name)
	if !acl.FileAllowed(sub, s.effective(old), acl.Write) {
		s.mu.Unlock()
		return ErrPermission
	}
	now := s.now()
	m := &Meta{MimeType: mt, Binary: bin, Size: int64(len(data)), ModifiedAt: now, CreatedAt: now}
	if old != nil {
		m.ACL = old.ACL
		if old.CreatedAt != 0 {
			m.CreatedAt = old.CreatedAt
		}
	} else {
		m.ACL = s.newACL(sub, o.Mode)
	}
	return s.commit([]mutation{{ns: ns, name: name, meta: m, data: data}})
}

// newACL is the acl of a file created by sub: owner = the user (internal
// callers: defaultNewAcl owner), ownerGroup = the user's primary group
// (administrator for admin without groups, else the default), permissions
// = mode or the default file mode.
func (s *BoltStore) newACL(sub *acl.Subject, mode int) acl.File {
	a := s.defaultACL()
	if sub != nil {
		if sub.User != "" {
			a.Owner = sub.User
		}
		switch {
		case len(sub.Groups) > 0:
			a.OwnerGroup = sub.Groups[0]
		case sub.User == acl.Admin:
			a.OwnerGroup = acl.AdminGroup
		}
	}
	if mode > 0 {
		a.Permissions = mode
	}
	return a
}

// Mkdir writes the hidden marker dir/_data.json after the WRITE check on
// dir; an existing marker or the namespace root is not an error.
func (s *BoltStore) Mkdir(ns, dir string, sub *acl.Subject) error {
	ns, dir, err := s.prepare(ns, dir)
	if err != nil {
		return err
	}
	if isMarker(dir) {
		return ErrPermission
	}
	s.mu.Lock()
	if !s.allowed(ns, dir, sub, acl.Write) {
		s.mu.Unlock()
		return ErrPermission
	}
	if dir == "" {
		s.mu.Unlock()
		return nil
	}
	marker := dir + "/" + markerName
	if s.lookup(ns, marker) != nil {
		s.mu.Unlock()
		return nil
	}
	now := s.now()
	m := &Meta{ACL: s.newACL(sub, 0), MimeType: "application/json", ModifiedAt: now, CreatedAt: now, Virtual: true}
	return s.commit([]mutation{{ns: ns, name: marker, meta: m}})
}

// Unlink deletes the file name, or when no such file exists everything
// below the folder name ("" = the whole namespace). WRITE is checked on the
// file, or on the folder path (default acl). Nothing to delete is not an error.
func (s *BoltStore) Unlink(ns, name string, sub *acl.Subject) error {
	ns, name, err := s.prepare(ns, name)
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
	ns, name, err := s.prepareFile(ns, name)
	if err != nil {
		return err
	}
	if isMarker(name) {
		return ErrNotExists
	}
	s.mu.Lock()
	m := s.lookup(ns, name)
	if m == nil {
		s.mu.Unlock()
		return ErrNotExists
	}
	if !acl.FileAllowed(sub, s.effective(m), acl.Write) {
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
	ns, from, err := s.prepareFile(ns, oldName)
	if err != nil {
		return err
	}
	_, to, err := Normalize(ns, newName)
	if err != nil {
		return err
	}
	if to == "" {
		return ErrNotExists
	}
	if isMarker(from) || isMarker(to) {
		return ErrPermission
	}
	s.mu.Lock()
	x := s.ns[ns]
	var muts []mutation
	switch {
	case x != nil && x.metas[from] != nil:
		if !s.allowed(ns, from, sub, acl.Write) || !s.allowed(ns, to, sub, acl.Write) {
			s.mu.Unlock()
			return ErrPermission
		}
		if from == to {
			s.mu.Unlock()
			return nil
		}
		muts = []mutation{{ns: ns, name: to, meta: x.metas[from], from: from}, {ns: ns, name: from}}
	case !single && x != nil && x.hasBelow(from):
		if !s.allowed(ns, from, sub, acl.Write) || !s.allowed(ns, to, sub, acl.Write) {
			s.mu.Unlock()
			return ErrPermission
		}
		if from == to {
			s.mu.Unlock()
			return nil
		}
		if strings.HasPrefix(to, from+"/") || strings.HasPrefix(from, to+"/") {
			s.mu.Unlock()
			return ErrInvalidParameter
		}
		srcs := x.under(from)
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
	default:
		s.mu.Unlock()
		if single {
			return ErrNotExists
		}
		return nil
	}
	return s.commit(muts)
}
