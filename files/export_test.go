package files

// SetClock replaces the ms clock of new metas (for the shared suite, which
// runs in package files_test).
func SetClock(s *BoltStore, now func() int64) { s.now = now }
