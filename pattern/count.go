package pattern

// Count returns how many patterns s holds (subscription limits).
func (ix *Index[S]) Count(s S) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if sub := ix.subs[s]; sub != nil {
		return len(sub.patterns)
	}
	return 0
}

// Has reports whether s holds exactly the pattern string p.
func (ix *Index[S]) Has(p string, s S) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	sub := ix.subs[s]
	if sub == nil {
		return false
	}
	_, ok := sub.patterns[p]
	return ok
}
