package files

import (
	"errors"
	"strings"
	"sync"

	"github.com/brokerd/brokerd/acl"
)

// Policy holds the file store's rules that do not depend on where files are
// kept: which namespaces may hold files, the default acl, the acl of new
// files and chown's owner resolution. Both backends (BoltStore and the
// Redis store) hold one, so each rule is written once and both answer alike.
type Policy struct {
	checker  NamespaceChecker
	defaults func() acl.File

	mu     sync.RWMutex
	groups func(user string) []string
}

// NewPolicy returns the rules of one store. ns decides which namespaces are
// meta objects; defaults returns system.config defaultNewAcl (may be nil;
// missing fields fall back to admin / administrator / 0x644).
func NewPolicy(ns NamespaceChecker, defaults func() acl.File) *Policy {
	return &Policy{checker: ns, defaults: defaults}
}

// SetUserGroups installs the lookup of a user's groups (primary first) that
// chown uses when no ownerGroup is given.
func (p *Policy) SetUserGroups(fn func(user string) []string) {
	p.mu.Lock()
	p.groups = fn
	p.mu.Unlock()
}

// Prepare normalises the arguments (Normalize) and checks that the
// namespace is a meta object. ErrEmptyID wins over NotMetaError, which wins
// over a bad name.
func (p *Policy) Prepare(ns, name string) (string, string, error) {
	ns, name, err := Normalize(ns, name)
	if errors.Is(err, ErrEmptyID) {
		return ns, name, err
	}
	if !p.checker.IsMeta(ns) {
		return ns, name, &NotMetaError{Namespace: ns}
	}
	return ns, name, err
}

// PrepareFile is Prepare for calls that need a file name: the namespace
// root is ErrNotExists.
func (p *Policy) PrepareFile(ns, name string) (string, string, error) {
	ns, name, err := p.Prepare(ns, name)
	if err == nil && name == "" {
		err = ErrNotExists
	}
	return ns, name, err
}

// PrepareExisting is PrepareFile for calls on a file that must exist (read,
// delete): a directory marker never does, so it is ErrNotExists.
func (p *Policy) PrepareExisting(ns, name string) (string, string, error) {
	ns, name, err := p.PrepareFile(ns, name)
	if err == nil && isMarker(name) {
		err = ErrNotExists
	}
	return ns, name, err
}

// PrepareDir is Prepare for Mkdir, which also returns the marker name it
// writes: a marker cannot hold a folder (ErrPermission).
func (p *Policy) PrepareDir(ns, dir string) (string, string, string, error) {
	ns, dir, err := p.Prepare(ns, dir)
	if err == nil && isMarker(dir) {
		err = ErrPermission
	}
	return ns, dir, dir + "/" + markerName, err
}

// PrepareRename prepares the source (a file name) and the target of a
// rename in the source's namespace. An empty target is ErrNotExists; moving
// a marker or onto one is ErrPermission.
func (p *Policy) PrepareRename(ns, oldName, newName string) (string, string, string, error) {
	ns, from, err := p.PrepareFile(ns, oldName)
	if err != nil {
		return ns, from, "", err
	}
	_, to, err := Normalize(ns, newName)
	if err != nil {
		return ns, from, to, err
	}
	if to == "" {
		return ns, from, to, ErrNotExists
	}
	if isMarker(from) || isMarker(to) {
		return ns, from, to, ErrPermission
	}
	return ns, from, to, nil
}

// CheckFolderMove refuses to move the folder from into itself or into its
// own parent chain (ErrInvalidParameter).
func CheckFolderMove(from, to string) error {
	if strings.HasPrefix(to, from+"/") || strings.HasPrefix(from, to+"/") {
		return ErrInvalidParameter
	}
	return nil
}

// DefaultACL is defaultNewAcl with the fallbacks of datamodel.md 4.3.
func (p *Policy) DefaultACL() acl.File {
	var d acl.File
	if p.defaults != nil {
		d = p.defaults()
	}
	if d.Owner == "" {
		d.Owner = acl.Admin
	}
	if d.OwnerGroup == "" {
		d.OwnerGroup = acl.AdminGroup
	}
	if d.Permissions == 0 {
		d.Permissions = 0x644
	}
	return d
}

// FillACL returns the acl of m with missing fields taken from the default
// acl d (a 0 mode counts as missing, datamodel.md 4.8 step 3); m nil means
// no file, so d itself.
func FillACL(d acl.File, m *Meta) acl.File {
	if m == nil {
		return d
	}
	a := m.ACL
	if a.Owner == "" {
		a.Owner = d.Owner
	}
	if a.OwnerGroup == "" {
		a.OwnerGroup = d.OwnerGroup
	}
	if a.Permissions == 0 {
		a.Permissions = d.Permissions
	}
	return a
}

// Allows checks op for sub against the acl of the file with meta m, or the
// default acl when m is nil (a folder, a missing file, the root).
func (p *Policy) Allows(sub *acl.Subject, m *Meta, op int) bool {
	return acl.FileAllowed(sub, FillACL(p.DefaultACL(), m), op)
}

// HasACL reports whether name can carry an acl of its own: the root and the
// markers are judged by the default acl without looking them up.
func HasACL(name string) bool { return name != "" && !isMarker(name) }

// newACL is the acl of a file created by sub: owner = the user (internal
// callers: defaultNewAcl owner), ownerGroup = the user's primary group
// (administrator for admin without groups, else the default), permissions
// = mode or the default file mode.
func (p *Policy) newACL(sub *acl.Subject, mode int) acl.File {
	a := p.DefaultACL()
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

// MarkerMeta is the meta of the hidden marker Mkdir writes for sub at ms
// time now.
func (p *Policy) MarkerMeta(sub *acl.Subject, now int64) *Meta {
	return &Meta{ACL: p.newACL(sub, 0), MimeType: "application/json", ModifiedAt: now, CreatedAt: now, Virtual: true}
}

// checkMode refuses a permission mask outside the hex nibbles 0..0xfff.
func checkMode(mode int) error {
	if mode < 0 || mode > 0xfff {
		return ErrInvalidParameter
	}
	return nil
}

// FileWrite is a Write whose arguments passed every check that needs no
// stored meta; Meta finishes it once the old meta is known.
type FileWrite struct {
	NS, Name string

	p        *Policy
	mimeType string
	binary   bool
	size     int64
	mode     int
}

// PrepareWrite checks the arguments of a Write of size bytes (datamodel.md
// 7.5): the name (PrepareFile; a marker is ErrPermission), the size limit
// (ErrTooLarge) and the mode; it detects the MIME type, which o.MimeType
// overrides (the binary flag is always detected).
func (p *Policy) PrepareWrite(ns, name string, size int, text bool, o WriteOptions) (FileWrite, error) {
	ns, name, err := p.PrepareFile(ns, name)
	if err != nil {
		return FileWrite{}, err
	}
	if isMarker(name) {
		return FileWrite{}, ErrPermission
	}
	if size > MaxFileSize {
		return FileWrite{}, tooLarge(size)
	}
	if err := checkMode(o.Mode); err != nil {
		return FileWrite{}, err
	}
	mt, bin := DetectMime(name, text)
	if o.MimeType != "" {
		mt = o.MimeType
	}
	return FileWrite{NS: ns, Name: name, p: p, mimeType: mt, binary: bin, size: int64(size), mode: o.Mode}, nil
}

// Meta checks WRITE against old (nil: no file yet, the default acl decides)
// and returns the meta that replaces it: an existing file keeps its acl and
// createdAt, a new one gets sub's acl (newACL). now is read only once the
// write is allowed.
func (w FileWrite) Meta(old *Meta, sub *acl.Subject, now func() int64) (*Meta, error) {
	if !w.p.Allows(sub, old, acl.Write) {
		return nil, ErrPermission
	}
	t := now()
	m := &Meta{MimeType: w.mimeType, Binary: w.binary, Size: w.size, ModifiedAt: t, CreatedAt: t}
	if old != nil {
		m.ACL = old.ACL
		if old.CreatedAt != 0 {
			m.CreatedAt = old.CreatedAt
		}
	} else {
		m.ACL = w.p.newACL(sub, w.mode)
	}
	return m, nil
}
