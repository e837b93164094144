package files

import (
	"strings"

	"github.com/brokerd/brokerd/acl"
)

// Chmod sets the permissions of the file name, of every file below the
// folder name, or with a trailing '*' of every file whose name starts with
// the text before it (conn.js chmodProject sends "main*"). WRITE is checked
// on name itself (its file acl, else the default acl); the files below are
// changed regardless of their own acl (datamodel.md 4.8). mode is a hex
// nibble mask 0..0xfff. Nothing matched → ErrNotExists.
func (s *BoltStore) Chmod(ns, name string, mode int, sub *acl.Subject) ([]Entry, error) {
	if mode < 0 || mode > 0xfff {
		return nil, ErrInvalidParameter
	}
	return s.changeACL(ns, name, sub, func(a *acl.File) { a.Permissions = mode })
}

// Chown sets owner and ownerGroup like Chmod selects files. owner ""
// means the caller (admin for internal calls); ids without the
// "system.user." / "system.group." prefix get it. ownerGroup "" means the
// owner's primary group from the SetUserGroups lookup; without one the call
// fails with NoGroupError.
func (s *BoltStore) Chown(ns, name, owner, ownerGroup string, sub *acl.Subject) ([]Entry, error) {
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
		s.mu.RLock()
		lookup := s.groups
		s.mu.RUnlock()
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
	return s.changeACL(ns, name, sub, func(a *acl.File) { a.Owner, a.OwnerGroup = owner, ownerGroup })
}

func (s *BoltStore) changeACL(ns, name string, sub *acl.Subject, change func(*acl.File)) ([]Entry, error) {
	ns, name, err := s.prepareFile(ns, name)
	if err != nil {
		return nil, err
	}
	glob := strings.HasSuffix(name, "*")
	target := strings.TrimSuffix(name, "*")
	if isMarker(target) {
		return nil, ErrNotExists
	}
	s.mu.Lock()
	x := s.ns[ns]
	var names []string
	if x != nil {
		switch {
		case glob:
			lo, hi := x.below(target)
			names = append(names, x.names[lo:hi]...)
		case x.metas[target] != nil:
			names = []string{target}
		default:
			names = x.under(target)
		}
	}
	var muts []mutation
	var out []Entry
	for _, n := range names {
		if isMarker(n) {
			continue
		}
		m := *x.metas[n]
		m.ACL = s.effective(&m)
		change(&m.ACL)
		muts = append(muts, mutation{ns: ns, name: n, meta: &m, metaOnly: true})
		dir, file := splitName(n)
		a := m.ACL
		out = append(out, fileEntry(dir, file, &m, &a))
	}
	if !s.allowed(ns, strings.TrimSuffix(target, "/"), sub, acl.Write) {
		s.mu.Unlock()
		return nil, ErrPermission
	}
	if len(muts) == 0 {
		s.mu.Unlock()
		return nil, ErrNotExists
	}
	admin := sub == nil || sub.Admin
	for i := range out {
		p := out[i].ACL.Permissions
		out[i].Read = admin || p&acl.EveryRead != 0
		out[i].Write = admin || p&acl.EveryWrite != 0
	}
	if err := s.commit(muts); err != nil {
		return nil, err
	}
	return out, nil
}
