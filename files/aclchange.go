package files

import (
	"strings"

	"github.com/brokerd/brokerd/acl"
)

// ACLChange is what one Chmod or Chown does to the acl of every file it
// selects.
type ACLChange func(*acl.File)

// ChmodChange sets the permissions to mode, a hex nibble mask 0..0xfff
// (else ErrInvalidParameter).
func ChmodChange(mode int) (ACLChange, error) {
	if err := checkMode(mode); err != nil {
		return nil, err
	}
	return func(a *acl.File) { a.Permissions = mode }, nil
}

// ChownChange sets owner and ownerGroup. owner "" means the caller (admin
// for internal calls); ids without the "system.user." / "system.group."
// prefix get it. ownerGroup "" means the owner's primary group from the
// SetUserGroups lookup; without one it fails with NoGroupError.
func (p *Policy) ChownChange(owner, ownerGroup string, sub *acl.Subject) (ACLChange, error) {
	if owner == "" {
		owner = acl.Admin
		if sub != nil && sub.User != "" {
			owner = sub.User
		}
	}
	if !strings.HasPrefix(owner, acl.UserPrefix) {
		owner = acl.UserPrefix + owner
	}
	if ownerGroup == "" {
		p.mu.RLock()
		lookup := p.groups
		p.mu.RUnlock()
		if lookup != nil {
			if gs := lookup(owner); len(gs) > 0 {
				ownerGroup = gs[0]
			}
		}
		if ownerGroup == "" {
			return nil, &NoGroupError{Owner: owner}
		}
	}
	if !strings.HasPrefix(ownerGroup, acl.GroupPrefix) {
		ownerGroup = acl.GroupPrefix + ownerGroup
	}
	return func(a *acl.File) { a.Owner, a.OwnerGroup = owner, ownerGroup }, nil
}

// Apply returns a copy of the meta m of the file name whose acl, completed
// from the default d, went through c, and the chmod/chown result row of
// that file for sub.
func (c ACLChange) Apply(name string, m *Meta, d acl.File, sub *acl.Subject) (*Meta, Entry) {
	n := *m
	n.ACL = FillACL(d, &n)
	c(&n.ACL)
	dir, file := splitName(name)
	a := n.ACL // the row must not alias the stored meta
	return &n, fileEntry(dir, file, &n, &a, sub)
}

// ACLTarget is the name argument of Chmod and Chown: a file, a folder
// (every file below it), or with a trailing '*' every file whose name starts
// with the text before it (conn.js chmodProject sends "main*").
type ACLTarget struct {
	Name string // without the '*'
	Glob bool
}

// PrepareACLTarget prepares the name of a chmod/chown (PrepareFile); a
// marker is ErrNotExists.
func (p *Policy) PrepareACLTarget(ns, name string) (string, ACLTarget, error) {
	ns, name, err := p.PrepareFile(ns, name)
	if err != nil {
		return ns, ACLTarget{}, err
	}
	t := ACLTarget{Name: strings.TrimSuffix(name, "*"), Glob: strings.HasSuffix(name, "*")}
	if isMarker(t.Name) {
		return ns, ACLTarget{}, ErrNotExists
	}
	return ns, t, nil
}

// Prefix is what the names of a glob or folder target start with; a target
// that names a file selects that file alone.
func (t ACLTarget) Prefix() string {
	if t.Glob {
		return t.Name
	}
	return dirPrefix(t.Name)
}

// Guard is the name whose acl WRITE is checked on: the target itself (a
// glob's text without a trailing '/').
func (t ACLTarget) Guard() string { return strings.TrimSuffix(t.Name, "/") }
