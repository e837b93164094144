package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/brokerd/brokerd/auth"
)

// SessionsFactory prepares one empty backing database for a test and
// returns open: each call closes the store the previous call returned (if
// any) and opens a new one on the same data, as a restart does. now is the
// clock that decides expiry. Stores are closed in t.Cleanup.
type SessionsFactory func(t *testing.T, now func() time.Time) (open func() auth.SessionStore)

// RunSessions runs the auth.SessionStore suite against stores from f.
func RunSessions(t *testing.T, f SessionsFactory) {
	tests := []struct {
		name string
		fn   func(*testing.T, *sessEnv)
	}{
		{"CreateValidateExpire", sessCreateValidateExpire},
		{"TokensRefreshRevoke", sessTokensRefreshRevoke},
		{"RefreshOnce", sessRefreshOnce},
		{"ConcurrentRefreshOneWins", sessConcurrentRefresh},
		{"RevokeUser", sessRevokeUser},
		{"SurvivesReopen", sessReopen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
			e := &sessEnv{clock: c, open: f(t, c.Now)}
			e.ss = e.open()
			tt.fn(t, e)
		})
	}
}

// Clock is a settable time source for the suites.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type sessEnv struct {
	clock *Clock
	open  func() auth.SessionStore
	ss    auth.SessionStore
}

const suiteUser = "system.user.admin"

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sessCreateValidateExpire(t *testing.T, e *sessEnv) {
	ss := e.ss
	tok, exp, err := ss.NewSession(suiteUser, time.Hour)
	mustNil(t, err)
	if !exp.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("expires %v", exp)
	}
	if u, x, ok := ss.Validate(tok); !ok || u != suiteUser || !x.Equal(exp) {
		t.Fatalf("Validate = %q %v %v", u, x, ok)
	}
	if _, _, ok := ss.Validate(tok + "x"); ok {
		t.Fatal("unknown token validated")
	}
	if _, _, ok := ss.Validate(""); ok {
		t.Fatal("empty token validated")
	}
	e.clock.Advance(59 * time.Minute)
	if !ss.Alive(tok) {
		t.Fatal("expired early")
	}
	e.clock.Advance(time.Minute)
	if ss.Alive(tok) {
		t.Fatal("alive at expiry")
	}
	if _, err := ss.Sweep(); err != nil {
		t.Fatal(err)
	}
	if ss.Alive(tok) {
		t.Fatal("alive after sweep")
	}
	// A second session is independent of the first.
	other, _, err := ss.NewSession("system.user.b", time.Hour)
	mustNil(t, err)
	if u, _, ok := ss.Validate(other); !ok || u != "system.user.b" {
		t.Fatalf("second session: %q %v", u, ok)
	}
	if err := ss.Revoke("never-issued"); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("revoke unknown = %v", err)
	}
}

func sessTokensRefreshRevoke(t *testing.T, e *sessEnv) {
	ss := e.ss
	p, err := ss.IssueTokens(suiteUser, time.Hour, 7*24*time.Hour)
	mustNil(t, err)
	if p.User != suiteUser || !p.AccessExpires.Equal(e.clock.Now().Add(time.Hour)) || !p.RefreshExpires.Equal(e.clock.Now().Add(7*24*time.Hour)) {
		t.Fatalf("pair %+v", p)
	}
	if _, _, ok := ss.Validate(p.RefreshToken); ok {
		t.Fatal("a refresh token must not work as access token")
	}
	if !ss.Alive(p.AccessToken) {
		t.Fatal("access token dead")
	}
	if _, err := ss.Refresh(p.AccessToken, time.Hour, time.Hour); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("an access token must not refresh: %v", err)
	}
	// Access expires, refresh still works and rotates the pair.
	e.clock.Advance(2 * time.Hour)
	if ss.Alive(p.AccessToken) {
		t.Fatal("access token outlived its ttl")
	}
	q, err := ss.Refresh(p.RefreshToken, time.Hour, 7*24*time.Hour)
	mustNil(t, err)
	if q.User != suiteUser || !ss.Alive(q.AccessToken) || q.AccessToken == p.AccessToken || q.RefreshToken == p.RefreshToken {
		t.Fatalf("refresh = %+v", q)
	}
	// Revoking the access token revokes its refresh token too.
	mustNil(t, ss.Revoke(q.AccessToken))
	if ss.Alive(q.AccessToken) {
		t.Fatal("revoked token alive")
	}
	if _, err := ss.Refresh(q.RefreshToken, time.Hour, time.Hour); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("refresh token survived revocation of its access token: %v", err)
	}
	if err := ss.Revoke(q.AccessToken); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("second revoke = %v", err)
	}
	// Revoking the refresh token revokes its access token.
	r, err := ss.IssueTokens(suiteUser, time.Hour, 2*time.Hour)
	mustNil(t, err)
	mustNil(t, ss.Revoke(r.RefreshToken))
	if ss.Alive(r.AccessToken) {
		t.Fatal("access token survived revocation of its refresh token")
	}
	// Expired refresh tokens fail.
	x, err := ss.IssueTokens(suiteUser, time.Hour, 2*time.Hour)
	mustNil(t, err)
	e.clock.Advance(2 * time.Hour)
	if _, err := ss.Refresh(x.RefreshToken, time.Hour, time.Hour); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("expired refresh token accepted: %v", err)
	}
}

func sessRefreshOnce(t *testing.T, e *sessEnv) {
	ss := e.ss
	p, err := ss.IssueTokens(suiteUser, time.Hour, 2*time.Hour)
	mustNil(t, err)
	q, err := ss.Refresh(p.RefreshToken, time.Hour, 2*time.Hour)
	mustNil(t, err)
	if _, err := ss.Refresh(p.RefreshToken, time.Hour, 2*time.Hour); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("a used refresh token worked twice: %v", err)
	}
	if ss.Alive(p.AccessToken) {
		t.Fatal("the old access token survived rotation")
	}
	if !ss.Alive(q.AccessToken) {
		t.Fatal("the failed second refresh killed the new pair")
	}
	if _, err := ss.Refresh(q.RefreshToken, time.Hour, 2*time.Hour); err != nil {
		t.Fatalf("the new refresh token: %v", err)
	}
}

// sessConcurrentRefresh: of many refreshes racing with one token exactly one
// succeeds, and only its pair is alive.
func sessConcurrentRefresh(t *testing.T, e *sessEnv) {
	ss := e.ss
	p, err := ss.IssueTokens(suiteUser, time.Hour, 2*time.Hour)
	mustNil(t, err)
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []auth.TokenPair
	)
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			q, err := ss.Refresh(p.RefreshToken, time.Hour, 2*time.Hour)
			if err != nil {
				if !errors.Is(err, auth.ErrInvalidToken) {
					t.Errorf("refresh: %v", err)
				}
				return
			}
			mu.Lock()
			winners = append(winners, q)
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d of %d concurrent refreshes succeeded, want 1", len(winners), n)
	}
	if !ss.Alive(winners[0].AccessToken) || ss.Alive(p.AccessToken) {
		t.Fatal("after the race the winner's pair must be alive and the old one dead")
	}
}

func sessRevokeUser(t *testing.T, e *sessEnv) {
	ss := e.ss
	a, _, err := ss.NewSession("system.user.a", time.Hour)
	mustNil(t, err)
	b, err := ss.IssueTokens("system.user.a", time.Hour, time.Hour)
	mustNil(t, err)
	c, _, err := ss.NewSession("system.user.c", time.Hour)
	mustNil(t, err)
	n, err := ss.RevokeUser("system.user.a")
	if err != nil || n != 3 {
		t.Fatalf("RevokeUser = %d, %v; want 3", n, err)
	}
	if ss.Alive(a) || ss.Alive(b.AccessToken) || !ss.Alive(c) {
		t.Fatal("RevokeUser removed the wrong credentials")
	}
	if _, err := ss.Refresh(b.RefreshToken, time.Hour, time.Hour); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("refresh token of a revoked user: %v", err)
	}
	if n, err := ss.RevokeUser("system.user.a"); err != nil || n != 0 {
		t.Fatalf("second RevokeUser = %d, %v", n, err)
	}
	// New logins of the user work again.
	d, _, err := ss.NewSession("system.user.a", time.Hour)
	mustNil(t, err)
	if !ss.Alive(d) {
		t.Fatal("new session after RevokeUser")
	}
}

func sessReopen(t *testing.T, e *sessEnv) {
	tok, exp, err := e.ss.NewSession(suiteUser, time.Hour)
	mustNil(t, err)
	pair, err := e.ss.IssueTokens(suiteUser, time.Hour, 2*time.Hour)
	mustNil(t, err)
	gone, _, err := e.ss.NewSession(suiteUser, time.Hour)
	mustNil(t, err)
	mustNil(t, e.ss.Revoke(gone))

	e.ss = e.open()
	ss := e.ss
	if u, x, ok := ss.Validate(tok); !ok || u != suiteUser || !x.Equal(exp) {
		t.Fatalf("session lost over restart: %q %v %v", u, x, ok)
	}
	if ss.Alive(gone) {
		t.Fatal("revoked session came back")
	}
	// The peer link survives: refresh after restart ends the old access token.
	if !ss.Alive(pair.AccessToken) {
		t.Fatal("access token lost over restart")
	}
	q, err := ss.Refresh(pair.RefreshToken, time.Hour, time.Hour)
	mustNil(t, err)
	if ss.Alive(pair.AccessToken) || !ss.Alive(q.AccessToken) {
		t.Fatal("rotation after restart")
	}
	// Expired credentials stay dead after sweep and restart.
	e.clock.Advance(3 * time.Hour)
	if _, err := ss.Sweep(); err != nil {
		t.Fatal(err)
	}
	e.ss = e.open()
	if e.ss.Alive(tok) || e.ss.Alive(q.AccessToken) {
		t.Fatal("expired credential alive after restart")
	}
}
