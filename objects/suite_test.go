package objects_test

import (
	"testing"

	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/storetest"
)

// TestStoreSuite runs the shared object store suite against bbolt.
func TestStoreSuite(t *testing.T) {
	storetest.RunObjects(t, func(t *testing.T) storetest.ObjectStore {
		db, err := database.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		s, err := objects.Open(db)
		if err != nil {
			db.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return s
	})
}
