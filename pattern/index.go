package pattern

import (
	"slices"
	"strings"
	"sync"
)

// Index maps patterns to subscribers so that finding the subscribers of a
// changed id costs about the number of matching patterns, not the number of
// subscribed patterns:
//
//   - exact ids are one map lookup;
//   - prefix patterns ("a.b.*", and `*` as the empty prefix) live in a radix
//     tree walked along the id, O(len(id));
//   - general patterns ("a.*.b") hang off the tree node of their text before
//     the first star, so only those whose head is a prefix of the id are tried;
//   - suffix patterns ("*.STATE") are one map lookup per distinct suffix length;
//   - only general patterns starting with a star ("*.x.*") are tried for every id.
//
// Per subscriber a pattern is held at most once, without reference counting
// (protocol.md 5.2). The zero value is ready to use; an Index is safe for
// concurrent use and must not be copied.
type Index[S comparable] struct {
	mu sync.RWMutex

	// Subscribers are interned as small integer slots so that Match can
	// dedupe with a per-call mark array instead of a map.
	subs  map[S]*subscriber
	slots []S // slot → subscriber; zero while free
	free  []int32
	n     int // (pattern, subscriber) pairs

	exact      map[string][]int32
	tree       node // Prefix/All subscribers and General patterns by head
	suffix     map[string][]int32
	suffixLens []lenCount               // distinct suffix lengths, ascending
	general    map[string]*generalEntry // every General pattern, compiled once

	scratch sync.Pool // *scratch[S], reused across Match calls
}

type subscriber struct {
	slot     int32
	patterns map[string]*Matcher
}

type generalEntry struct {
	m    *Matcher
	subs []int32
}

type lenCount struct{ n, count int }

// Add subscribes s to pattern p. Adding a pair that exists is a no-op. It
// returns ErrEmptyPattern or an *InvalidError for a pattern that cannot be used.
func (ix *Index[S]) Add(p string, s S) error {
	m, err := Compile(p)
	if err != nil {
		return err
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	sub := ix.subs[s]
	if sub == nil {
		sub = ix.newSubscriber(s)
	} else if _, ok := sub.patterns[p]; ok {
		return nil
	}
	sub.patterns[p] = m
	ix.insert(m, sub.slot)
	ix.n++
	return nil
}

// Remove unsubscribes s from exactly the pattern string p; it never narrows a
// wildcard (protocol.md 5.2). It reports whether s held p.
func (ix *Index[S]) Remove(p string, s S) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	sub := ix.subs[s]
	if sub == nil {
		return false
	}
	m, ok := sub.patterns[p]
	if !ok {
		return false
	}
	delete(sub.patterns, p)
	ix.delete(m, sub.slot)
	ix.n--
	if len(sub.patterns) == 0 {
		ix.freeSubscriber(s, sub)
	}
	return true
}

// RemoveAll drops every pattern of s, as on disconnect (protocol.md 5.6).
func (ix *Index[S]) RemoveAll(s S) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	sub := ix.subs[s]
	if sub == nil {
		return
	}
	for _, m := range sub.patterns {
		ix.delete(m, sub.slot)
	}
	ix.n -= len(sub.patterns)
	ix.freeSubscriber(s, sub)
}

// Len returns the number of (pattern, subscriber) pairs.
func (ix *Index[S]) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.n
}

// Subscribers returns the number of subscribers holding at least one pattern.
func (ix *Index[S]) Subscribers() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.subs)
}

// Patterns returns the patterns of s, sorted.
func (ix *Index[S]) Patterns(s S) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	sub := ix.subs[s]
	if sub == nil {
		return nil
	}
	ps := make([]string, 0, len(sub.patterns))
	for p := range sub.patterns {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// Match calls fn once for every distinct subscriber with a pattern matching
// id, in no particular order. fn runs after the index lock is released, so it
// may call Add or Remove; subscriptions changed meanwhile are not seen.
func (ix *Index[S]) Match(id string, fn func(S)) {
	sc := ix.getScratch()
	sc.out = ix.appendMatches(sc, sc.out[:0], id)
	for _, s := range sc.out {
		fn(s)
	}
	clear(sc.out) // do not keep subscribers alive from the pool
	ix.scratch.Put(sc)
}

// AppendMatches appends every distinct subscriber matching id to dst.
func (ix *Index[S]) AppendMatches(dst []S, id string) []S {
	sc := ix.getScratch()
	dst = ix.appendMatches(sc, dst, id)
	sc.out = nil // dst belongs to the caller
	ix.scratch.Put(sc)
	return dst
}

func (ix *Index[S]) getScratch() *scratch[S] {
	if sc, ok := ix.scratch.Get().(*scratch[S]); ok {
		return sc
	}
	return new(scratch[S])
}

func (ix *Index[S]) appendMatches(sc *scratch[S], dst []S, id string) []S {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	sc.begin(len(ix.slots), ix.slots, dst)

	sc.addSlots(ix.exact[id])

	// Walk the radix tree along id; every node passed is a prefix of id.
	n, rest := &ix.tree, id
	for {
		sc.addSlots(n.subs)
		if len(n.general) > 0 {
			sc.path = append(sc.path, n)
		}
		if rest == "" {
			break
		}
		_, c := n.child(rest[0])
		if c == nil || !strings.HasPrefix(rest, c.label) {
			break
		}
		n, rest = c, rest[len(c.label):]
	}

	for _, lc := range ix.suffixLens {
		if lc.n > len(id) {
			break
		}
		sc.addSlots(ix.suffix[id[len(id)-lc.n:]])
	}

	// General patterns last: the cheap lookups above may already have
	// emitted all of a pattern's subscribers, and then it need not be tried.
	for _, n := range sc.path {
		for _, e := range n.general {
			if !sc.allMarked(e.subs) && e.m.Match(id) {
				sc.addSlots(e.subs)
			}
		}
	}
	clear(sc.path)
	sc.path = sc.path[:0]
	out := sc.out
	sc.slots = nil // the index may reallocate it
	return out
}

func (ix *Index[S]) newSubscriber(s S) *subscriber {
	if ix.subs == nil {
		ix.subs = make(map[S]*subscriber)
	}
	var slot int32
	if k := len(ix.free); k > 0 {
		slot, ix.free = ix.free[k-1], ix.free[:k-1]
		ix.slots[slot] = s
	} else {
		slot = int32(len(ix.slots))
		ix.slots = append(ix.slots, s)
	}
	sub := &subscriber{slot: slot, patterns: make(map[string]*Matcher)}
	ix.subs[s] = sub
	return sub
}

func (ix *Index[S]) freeSubscriber(s S, sub *subscriber) {
	var zero S
	ix.slots[sub.slot] = zero
	ix.free = append(ix.free, sub.slot)
	delete(ix.subs, s)
}

func (ix *Index[S]) insert(m *Matcher, slot int32) {
	switch m.kind {
	case Exact:
		if ix.exact == nil {
			ix.exact = make(map[string][]int32)
		}
		ix.exact[m.lit] = append(ix.exact[m.lit], slot)
	case All, Prefix:
		n := ix.tree.insert(m.lit)
		n.subs = append(n.subs, slot)
	case Suffix:
		if ix.suffix == nil {
			ix.suffix = make(map[string][]int32)
		}
		if len(ix.suffix[m.lit]) == 0 {
			ix.countSuffixLen(len(m.lit), +1)
		}
		ix.suffix[m.lit] = append(ix.suffix[m.lit], slot)
	case General:
		e := ix.general[m.pattern]
		if e == nil {
			if ix.general == nil {
				ix.general = make(map[string]*generalEntry)
			}
			e = &generalEntry{m: m}
			ix.general[m.pattern] = e
			n := ix.tree.insert(m.segs[0])
			n.general = append(n.general, e)
		}
		e.subs = append(e.subs, slot)
	}
}

func (ix *Index[S]) delete(m *Matcher, slot int32) {
	switch m.kind {
	case Exact:
		if l := removeSlot(ix.exact[m.lit], slot); len(l) > 0 {
			ix.exact[m.lit] = l
		} else {
			delete(ix.exact, m.lit)
		}
	case All, Prefix:
		n := ix.tree.lookup(m.lit)
		n.subs = removeSlot(n.subs, slot)
		ix.tree.prune(m.lit)
	case Suffix:
		if l := removeSlot(ix.suffix[m.lit], slot); len(l) > 0 {
			ix.suffix[m.lit] = l
		} else {
			delete(ix.suffix, m.lit)
			ix.countSuffixLen(len(m.lit), -1)
		}
	case General:
		e := ix.general[m.pattern]
		if e.subs = removeSlot(e.subs, slot); len(e.subs) > 0 {
			return
		}
		delete(ix.general, m.pattern)
		head := m.segs[0]
		n := ix.tree.lookup(head)
		n.general = slices.DeleteFunc(n.general, func(x *generalEntry) bool { return x == e })
		ix.tree.prune(head)
	}
}

// countSuffixLen adjusts the number of suffixes of length n by d.
func (ix *Index[S]) countSuffixLen(n, d int) {
	i, found := slices.BinarySearchFunc(ix.suffixLens, n, func(lc lenCount, n int) int { return lc.n - n })
	switch {
	case !found:
		ix.suffixLens = slices.Insert(ix.suffixLens, i, lenCount{n: n, count: d})
	case ix.suffixLens[i].count+d == 0:
		ix.suffixLens = slices.Delete(ix.suffixLens, i, i+1)
	default:
		ix.suffixLens[i].count += d
	}
}

// removeSlot deletes slot from l; order does not matter.
func removeSlot(l []int32, slot int32) []int32 {
	for i, x := range l {
		if x == slot {
			l[i] = l[len(l)-1]
			return l[:len(l)-1]
		}
	}
	return l
}

// scratch is the per-call state of Match: mark[slot] == epoch means the
// subscriber in slot was already emitted in this call.
type scratch[S comparable] struct {
	epoch uint32
	mark  []uint32
	slots []S
	out   []S
	path  []*node // tree nodes on the id's path that hold general patterns
}

func (sc *scratch[S]) begin(nslots int, slots []S, out []S) {
	sc.epoch++
	if sc.epoch == 0 { // wrapped: old marks could collide with new epochs
		clear(sc.mark)
		sc.epoch = 1
	}
	if len(sc.mark) < nslots {
		sc.mark = append(sc.mark, make([]uint32, nslots-len(sc.mark))...)
	}
	sc.slots, sc.out = slots, out
}

// allMarked reports whether every slot in l was already emitted, so a
// pattern held only by those subscribers need not be tried.
func (sc *scratch[S]) allMarked(l []int32) bool {
	for _, slot := range l {
		if sc.mark[slot] != sc.epoch {
			return false
		}
	}
	return true
}

func (sc *scratch[S]) addSlots(l []int32) {
	for _, slot := range l {
		if sc.mark[slot] != sc.epoch {
			sc.mark[slot] = sc.epoch
			sc.out = append(sc.out, sc.slots[slot])
		}
	}
}
