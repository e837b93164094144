package auth

import (
	"bytes"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestSessionExpiryAndSweep(t *testing.T) {
	e := newEnv(t)
	ss := e.bolt()
	tok, exp, err := ss.NewSession("system.user.admin", time.Hour)
	must(t, err)
	if !exp.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatal(exp)
	}
	if u, x, ok := ss.Validate(tok); !ok || u != "system.user.admin" || !x.Equal(exp) {
		t.Fatalf("Validate = %q %v %v", u, x, ok)
	}
	if _, _, ok := ss.Validate(tok + "x"); ok {
		t.Fatal("unknown token validated")
	}
	e.clock.Advance(59 * time.Minute)
	if !ss.Alive(tok) {
		t.Fatal("expired early")
	}
	e.clock.Advance(time.Minute)
	if ss.Alive(tok) {
		t.Fatal("alive at expiry")
	}
	if n, err := ss.Sweep(); err != nil || n != 1 || ss.Len() != 0 {
		t.Fatalf("Sweep = %d, %v; len %d", n, err, ss.Len())
	}
}

func TestTokensRefreshRevoke(t *testing.T) {
	e := newEnv(t)
	ss := e.svc.Sessions()
	p, err := ss.IssueTokens("system.user.admin", time.Hour, 7*24*time.Hour)
	must(t, err)
	if _, _, ok := ss.Validate(p.RefreshToken); ok {
		t.Fatal("a refresh token must not work as access token")
	}
	if !ss.Alive(p.AccessToken) {
		t.Fatal("access token dead")
	}
	if _, err := ss.Refresh(p.AccessToken, time.Hour, time.Hour); !errors.Is(err, ErrInvalidToken) {
		t.Fatal("an access token must not refresh")
	}
	// Access expires, refresh still works and rotates the pair.
	e.clock.Advance(2 * time.Hour)
	if ss.Alive(p.AccessToken) {
		t.Fatal("access token outlived its ttl")
	}
	q, err := ss.Refresh(p.RefreshToken, time.Hour, 7*24*time.Hour)
	must(t, err)
	if q.User != "system.user.admin" || !ss.Alive(q.AccessToken) || q.AccessToken == p.AccessToken {
		t.Fatalf("refresh = %+v", q)
	}
	if _, err := ss.Refresh(p.RefreshToken, time.Hour, time.Hour); !errors.Is(err, ErrInvalidToken) {
		t.Fatal("a used refresh token must not work twice")
	}
	// Revoking the access token revokes its refresh token too.
	must(t, ss.Revoke(q.AccessToken))
	if ss.Alive(q.AccessToken) {
		t.Fatal("revoked token alive")
	}
	if _, err := ss.Refresh(q.RefreshToken, time.Hour, time.Hour); !errors.Is(err, ErrInvalidToken) {
		t.Fatal("refresh token survived revocation of its access token")
	}
	if err := ss.Revoke(q.AccessToken); !errors.Is(err, ErrNoSession) {
		t.Fatalf("second revoke = %v", err)
	}
	// Expired refresh tokens fail.
	r, err := ss.IssueTokens("system.user.admin", time.Hour, 2*time.Hour)
	must(t, err)
	e.clock.Advance(2 * time.Hour)
	if _, err := ss.Refresh(r.RefreshToken, time.Hour, time.Hour); !errors.Is(err, ErrInvalidToken) {
		t.Fatal("expired refresh token accepted")
	}
}

func TestRevokeUser(t *testing.T) {
	e := newEnv(t)
	ss := e.svc.Sessions()
	a, _, _ := ss.NewSession("system.user.a", time.Hour)
	b, _ := ss.IssueTokens("system.user.a", time.Hour, time.Hour)
	c, _, _ := ss.NewSession("system.user.c", time.Hour)
	n, err := ss.RevokeUser("system.user.a")
	if err != nil || n != 3 {
		t.Fatalf("RevokeUser = %d, %v", n, err)
	}
	if ss.Alive(a) || ss.Alive(b.AccessToken) || !ss.Alive(c) {
		t.Fatal("RevokeUser removed the wrong credentials")
	}
}

func TestSessionsPersistHashed(t *testing.T) {
	e := newEnv(t)
	tok, exp, err := e.svc.Sessions().NewSession("system.user.admin", time.Hour)
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

	e.reopen()
	ss := e.bolt()
	if ss.Len() != 3 {
		t.Fatalf("after reopen %d credentials, want 3", ss.Len())
	}
	if u, x, ok := ss.Validate(tok); !ok || u != "system.user.admin" || !x.Equal(exp) {
		t.Fatalf("session lost over restart: %q %v %v", u, x, ok)
	}
	if ss.Alive(gone) {
		t.Fatal("revoked session came back")
	}
	// Peer link survives: refresh after restart, then the old access is gone.
	q, err := ss.Refresh(pair.RefreshToken, time.Hour, time.Hour)
	must(t, err)
	if ss.Alive(pair.AccessToken) || !ss.Alive(q.AccessToken) {
		t.Fatal("rotation after restart")
	}
	// Expired ones are swept from disk too.
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
