package auth_test

import (
	"testing"
	"time"

	"github.com/brokerd/brokerd/auth"
	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/storetest"
)

// TestSessionsSuite runs the shared session-store suite on the bbolt store;
// redisstore runs the same suite on Redis.
func TestSessionsSuite(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T, now func() time.Time) func() auth.SessionStore {
		dir := t.TempDir()
		var db *database.DB
		closeDB := func() {
			if db != nil {
				db.Close()
				db = nil
			}
		}
		t.Cleanup(closeDB)
		return func() auth.SessionStore {
			closeDB()
			var err error
			if db, err = database.Open(dir); err != nil {
				t.Fatal(err)
			}
			s, err := auth.OpenSessions(db, now)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}
