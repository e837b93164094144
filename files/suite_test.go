package files_test

import (
	"testing"

	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/storetest"
)

// TestStoreSuite runs the shared file store suite against bbolt.
func TestStoreSuite(t *testing.T) {
	storetest.RunFiles(t, func(t *testing.T, env *storetest.FilesEnv) files.Store {
		db, err := database.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		db.Bolt.NoSync = true // durability of the disk is not under test
		s, err := files.Open(db, files.NamespaceFunc(env.IsMeta), env.DefaultACL)
		if err != nil {
			db.Close()
			t.Fatal(err)
		}
		files.SetClock(s, env.Now)
		s.SetUserGroups(env.Groups)
		t.Cleanup(func() { db.Close() })
		return s
	})
}
