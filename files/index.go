package files

import (
	"slices"
	"sort"
	"strings"
)

// nsIndex is the in-memory view of one namespace: every stored name (files
// and directory markers) sorted byte-wise, and their metas. Metas are
// immutable once stored; changes replace the pointer.
type nsIndex struct {
	names []string
	metas map[string]*Meta
}

func newNSIndex() *nsIndex { return &nsIndex{metas: map[string]*Meta{}} }

func (x *nsIndex) put(name string, m *Meta) {
	if _, ok := x.metas[name]; !ok {
		i, _ := slices.BinarySearch(x.names, name)
		x.names = slices.Insert(x.names, i, name)
	}
	x.metas[name] = m
}

func (x *nsIndex) remove(name string) {
	if _, ok := x.metas[name]; !ok {
		return
	}
	delete(x.metas, name)
	if i, ok := slices.BinarySearch(x.names, name); ok {
		x.names = slices.Delete(x.names, i, i+1)
	}
}

// below returns the index range of names starting with prefix.
func (x *nsIndex) below(prefix string) (lo, hi int) {
	lo = sort.SearchStrings(x.names, prefix)
	hi = lo + sort.Search(len(x.names)-lo, func(i int) bool {
		return !strings.HasPrefix(x.names[lo+i], prefix)
	})
	return lo, hi
}

// under lists the names below directory dir ("" = whole namespace).
func (x *nsIndex) under(dir string) []string {
	prefix := dirPrefix(dir)
	lo, hi := x.below(prefix)
	return slices.Clone(x.names[lo:hi])
}

// hasBelow reports whether anything is stored below dir.
func (x *nsIndex) hasBelow(dir string) bool {
	lo, hi := x.below(dirPrefix(dir))
	return hi > lo
}

func dirPrefix(dir string) string {
	if dir == "" {
		return ""
	}
	return dir + "/"
}

// children calls fn for each entry one level below dir (see Children).
func (x *nsIndex) children(dir string, fn func(name, child string, isDir bool)) {
	lo, hi := x.below(dirPrefix(dir))
	Children(x.names[lo:hi], dir, fn)
}
