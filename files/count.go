package files

// Count returns how many names (files and folder markers) namespace ns
// holds; the transport uses it for limits.max_files_per_namespace.
func (s *BoltStore) Count(ns string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if x := s.ns[ns]; x != nil {
		return len(x.names)
	}
	return 0
}
