package files

import "github.com/brokerd/brokerd/acl"

// Chmod sets the permissions of the file name, of every file below the
// folder name, or with a trailing '*' of every file whose name starts with
// the text before it (ACLTarget). WRITE is checked on name itself (its file
// acl, else the default acl); the files below are changed regardless of
// their own acl (datamodel.md 4.8). mode is a hex nibble mask 0..0xfff.
// Nothing matched → ErrNotExists.
func (s *BoltStore) Chmod(ns, name string, mode int, sub *acl.Subject) ([]Entry, error) {
	change, err := ChmodChange(mode)
	if err != nil {
		return nil, err
	}
	return s.changeACL(ns, name, sub, change)
}

// Chown sets owner and ownerGroup (resolved by Policy.ChownChange) like
// Chmod selects files.
func (s *BoltStore) Chown(ns, name, owner, ownerGroup string, sub *acl.Subject) ([]Entry, error) {
	change, err := s.policy.ChownChange(owner, ownerGroup, sub)
	if err != nil {
		return nil, err
	}
	return s.changeACL(ns, name, sub, change)
}

func (s *BoltStore) changeACL(ns, name string, sub *acl.Subject, change ACLChange) ([]Entry, error) {
	ns, t, err := s.policy.PrepareACLTarget(ns, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	x := s.ns[ns]
	var names []string
	if x != nil {
		if !t.Glob && x.metas[t.Name] != nil {
			names = []string{t.Name}
		} else {
			lo, hi := x.below(t.Prefix())
			names = x.names[lo:hi] // not changed before commit
		}
	}
	var muts []mutation
	var out []Entry
	d := s.policy.DefaultACL()
	for _, n := range names {
		if isMarker(n) {
			continue
		}
		m, e := change.Apply(n, x.metas[n], d, sub)
		muts = append(muts, mutation{ns: ns, name: n, meta: m, metaOnly: true})
		out = append(out, e)
	}
	if !s.allowed(ns, t.Guard(), sub, acl.Write) {
		s.mu.Unlock()
		return nil, ErrPermission
	}
	if len(muts) == 0 {
		s.mu.Unlock()
		return nil, ErrNotExists
	}
	if err := s.commit(muts); err != nil {
		return nil, err
	}
	return out, nil
}
