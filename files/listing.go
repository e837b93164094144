package files

import (
	"slices"
	"strings"

	"github.com/brokerd/brokerd/acl"
)

// IsMarker reports the reserved directory marker names (datamodel.md 7.2
// step 7): stored, but never listed, read or written as files.
func IsMarker(name string) bool { return isMarker(name) }

// DirPrefix is what every name below the folder dir starts with ("" for
// the namespace root).
func DirPrefix(dir string) string { return dirPrefix(dir) }

// Children calls fn for each entry one level below dir: files with their
// full name, folders (derived from deeper names) once each; markers are
// skipped. names must be sorted byte-wise and all start with DirPrefix(dir),
// as the name index of either backend gives them; deeper names are jumped
// over by binary search, so the cost follows the entries, not the subtree.
func Children(names []string, dir string, fn func(name, child string, isDir bool)) {
	prefix := dirPrefix(dir)
	for i := 0; i < len(names); {
		rest := names[i][len(prefix):]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			fn("", rest[:j], true)
			// '0' is '/'+1: the first name after this folder's subtree.
			k, _ := slices.BinarySearch(names[i:], names[i][:len(prefix)+j]+"0")
			i += k
			continue
		}
		if rest != markerName {
			fn(names[i], rest, false)
		}
		i++
	}
}

// Listing builds the rows of one readDir level (protocol.md 9) for one
// caller: folders, and the files the caller may read with their effective
// acl and the Read/Write flags of the everyone bits (true for admins).
type Listing struct {
	sub  *acl.Subject
	d    acl.File
	rows []Entry
	acls []acl.File // one allocation for all rows' acls
}

// NewListing starts a listing of about n rows for sub.
func (p *Policy) NewListing(sub *acl.Subject, n int) *Listing {
	return &Listing{sub: sub, d: p.DefaultACL(), rows: make([]Entry, 0, n), acls: make([]acl.File, 0, n)}
}

// Folder adds the folder child.
func (l *Listing) Folder(child string) {
	l.rows = append(l.rows, Entry{File: child, IsDir: true})
}

// File adds the file child with meta m, unless the caller may not read it
// (readDir omits such files).
func (l *Listing) File(child string, m *Meta) {
	a := FillACL(l.d, m)
	if !acl.FileAllowed(l.sub, a, acl.Read) {
		return
	}
	l.acls = append(l.acls, a)
	l.rows = append(l.rows, fileEntry("", child, m, &l.acls[len(l.acls)-1], l.sub))
}

// Rows returns the rows sorted by name, a file before a folder of the same
// name (a file may share its name with a folder); never nil, so an empty
// folder encodes as [].
func (l *Listing) Rows() []Entry {
	slices.SortStableFunc(l.rows, func(a, b Entry) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		switch {
		case a.IsDir == b.IsDir:
			return 0
		case b.IsDir:
			return -1
		}
		return 1
	})
	return l.rows
}

// fileEntry is the row of the file dir/file with meta m and effective acl
// a, with the everyone bits as sub sees them.
func fileEntry(dir, file string, m *Meta, a *acl.File, sub *acl.Subject) Entry {
	admin := sub == nil || sub.Admin
	return Entry{
		File:       file,
		Path:       dir,
		Size:       m.Size,
		ACL:        a,
		Read:       admin || a.Permissions&acl.EveryRead != 0,
		Write:      admin || a.Permissions&acl.EveryWrite != 0,
		MimeType:   m.MimeType,
		ModifiedAt: m.ModifiedAt,
		CreatedAt:  m.CreatedAt,
	}
}
