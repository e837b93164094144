package pattern

import (
	"slices"
	"strings"
)

// node is a radix tree node keyed by bytes. The path from the root to a node
// is the concatenation of the labels on the way; the root's label is "".
// Children have non-empty labels with distinct first bytes, sorted by them.
type node struct {
	label    string
	children []*node
	subs     []int32         // prefix patterns whose literal is this path
	general  []*generalEntry // general patterns whose head is this path
}

// child returns the child whose label starts with b, or the index where such
// a child would be inserted and nil.
func (n *node) child(b byte) (int, *node) {
	lo, hi := 0, len(n.children)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if n.children[mid].label[0] < b {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(n.children) && n.children[lo].label[0] == b {
		return lo, n.children[lo]
	}
	return lo, nil
}

// insert returns the node for path key below n, creating and splitting
// nodes as needed.
func (n *node) insert(key string) *node {
	for key != "" {
		i, c := n.child(key[0])
		if c == nil {
			c = &node{label: key}
			n.children = append(n.children, nil)
			copy(n.children[i+1:], n.children[i:])
			n.children[i] = c
			return c
		}
		l := commonPrefixLen(c.label, key)
		if l < len(c.label) {
			// key leaves c's label midway: put a node at the split point.
			mid := &node{label: c.label[:l], children: []*node{c}}
			c.label = c.label[l:]
			n.children[i] = mid
			c = mid
		}
		n, key = c, key[l:]
	}
	return n
}

// lookup returns the node for path key below n, or nil.
func (n *node) lookup(key string) *node {
	for key != "" {
		_, c := n.child(key[0])
		if c == nil || !strings.HasPrefix(key, c.label) {
			return nil
		}
		n, key = c, key[len(c.label):]
	}
	return n
}

func (n *node) empty() bool { return len(n.subs) == 0 && len(n.general) == 0 }

// prune removes nodes left empty on the path of key below n and merges a
// node without entries into its only child, so the tree only holds paths of
// live patterns and lookups stay short.
func (n *node) prune(key string) {
	if key == "" {
		return
	}
	i, c := n.child(key[0])
	if c == nil || !strings.HasPrefix(key, c.label) {
		return
	}
	c.prune(key[len(c.label):])
	if !c.empty() {
		return
	}
	switch len(c.children) {
	case 0:
		n.children = slices.Delete(n.children, i, i+1)
	case 1:
		gc := c.children[0]
		gc.label = c.label + gc.label
		n.children[i] = gc
	}
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
