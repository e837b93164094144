package auth

import (
	"bytes"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The behaviour every session store shares (expiry, token pairs, refresh,
// revocation, reopen) is tested on this store by the shared suite
// (sessions_suite_test.go); here only what is bbolt's own.

// TestSweepCounts: Sweep reports how many expired credentials it removed
// from disk.
func TestSweepCounts(t *testing.T) {
	e := newEnv(t)
	ss := e.bolt()
	_, _, err := ss.NewSession("system.user.admin", time.Hour)
	must(t, err)
	_, _, err = ss.NewSession("system.user.admin", 2*time.Hour)
	must(t, err)
	e.clock.Advance(time.Hour)
	if n, err := ss.Sweep(); err != nil || n != 1 || ss.Len() != 1 {
		t.Fatalf("Sweep = %d, %v; len %d", n, err, ss.Len())
	}
}

func TestSessionsPersistHashed(t *testing.T) {
	e := newEnv(t)
	tok, _, err := e.svc.Sessions().NewSession("system.user.admin", time.Hour)
	must(t, err)
	pair, err := e.svc.Sessions().IssueTokens("system.user.admin", time.Hour, 2*time.Hour)
	must(t, err)
	gone, _, err := e.svc.Sessions().NewSession("system.user.admin", time.Hour)
	must(t, err)
	must(t, e.svc.Sessions().Revoke(gone))

	// Only hashes on disk: no token text in the bucket.
	must(t, e.db.Bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(SessionsBucket)).ForEach(func(k, v []byte) error {
			for _, secret := range []string{tok, pair.AccessToken, pair.RefreshToken} {
				if bytes.Contains(k, []byte(secret)) || bytes.Contains(v, []byte(secret)) {
					t.Errorf("token stored in clear")
				}
			}
			return nil
		})
	}))

	// What survives a restart is the suite's SurvivesReopen; here the
	// records on disk: three, and none once expired and swept.
	e.reopen()
	if n := e.bolt().Len(); n != 3 {
		t.Fatalf("after reopen %d credentials, want 3", n)
	}
	e.clock.Advance(3 * time.Hour)
	e.svc.Sweep()
	e.reopen()
	if n := e.bolt().Len(); n != 0 {
		t.Fatalf("%d credentials after sweep and reopen", n)
	}
}

func TestBackgroundSweep(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.SweepInterval = 5 * time.Millisecond })
	ss := e.bolt()
	_, _, err := ss.NewSession("system.user.admin", time.Minute)
	must(t, err)
	e.clock.Advance(time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for ss.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("background sweep did not remove the expired session")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
