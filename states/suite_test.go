package states_test

import (
	"testing"

	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/states"
	"github.com/brokerd/brokerd/storetest"
)

// TestStoreSuite runs the shared state store suite against bbolt.
func TestStoreSuite(t *testing.T) {
	storetest.RunStates(t, func(t *testing.T) states.Store {
		db, err := database.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		s, err := states.Open(db)
		if err != nil {
			db.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(); db.Close() })
		return s
	})
}
