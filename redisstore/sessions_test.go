package redisstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokerd/brokerd/auth"
	"github.com/brokerd/brokerd/redistest"
	"github.com/brokerd/brokerd/storetest"
	"github.com/redis/go-redis/v9"
)

// sessOptions returns options under a fresh prefix of its own
// ("brokerd-sesstest-…", not the other tests' "brokerd-test-…"), removed
// when the test ends.
func sessOptions(t testing.TB) Options {
	t.Helper()
	return optionsUnder(t, "brokerd-sesstest-")
}

func openSessions(t testing.TB, o Options, so SessionsOptions) *Sessions {
	t.Helper()
	s, err := OpenSessions(o, so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// ownClient is a client of its own named name, for hooks and CLIENT KILL.
func ownClient(t testing.TB, name string) *redis.Client {
	t.Helper()
	return redistest.Client(t, &redis.Options{DB: testDB, ClientName: name})
}

// eventually polls cond; the deadline only guards against hangs.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSessionsSuite(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T, now func() time.Time) func() auth.SessionStore {
		o := sessOptions(t)
		var cur *Sessions
		t.Cleanup(func() {
			if cur != nil {
				cur.Close()
			}
		})
		return func() auth.SessionStore {
			if cur != nil {
				cur.Close()
			}
			var err error
			if cur, err = OpenSessions(o, SessionsOptions{Now: now}); err != nil {
				t.Fatal(err)
			}
			return cur
		}
	})
}

// TestSessionsStoredHashedWithTTL: keys carry a Redis TTL equal to the
// remaining life, vanish by themselves, and hold no token text.
func TestSessionsStoredHashedWithTTL(t *testing.T) {
	o := sessOptions(t)
	ss := openSessions(t, o, SessionsOptions{})
	ctx := context.Background()
	tok, _, err := ss.NewSession("system.user.admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ss.IssueTokens("system.user.admin", time.Minute, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		token string
		ttl   time.Duration
	}{{tok, time.Hour}, {pair.AccessToken, time.Minute}, {pair.RefreshToken, 2 * time.Hour}} {
		pttl, err := o.Client.PTTL(ctx, ss.k.sessToken(hashOf(c.token))).Result()
		if err != nil || pttl <= c.ttl-10*time.Second || pttl > c.ttl {
			t.Fatalf("PTTL = %v, %v; want just under %v", pttl, err, c.ttl)
		}
	}
	if pttl, _ := o.Client.PTTL(ctx, ss.k.sessUser("system.user.admin")).Result(); pttl <= time.Hour || pttl > 2*time.Hour {
		t.Fatalf("user index PTTL = %v, want the longest credential's", pttl)
	}
	it := o.Client.Scan(ctx, 0, escapeGlob(o.Prefix)+"*", 100).Iterator()
	n := 0
	for it.Next(ctx) {
		k := it.Val()
		n++
		var content []string
		switch typ, _ := o.Client.Type(ctx, k).Result(); typ {
		case "string":
			v, _ := o.Client.Get(ctx, k).Result()
			content = []string{v}
		case "zset":
			content, _ = o.Client.ZRange(ctx, k, 0, -1).Result()
		default:
			t.Fatalf("unexpected %s key %s", typ, k)
		}
		for _, secret := range []string{tok, pair.AccessToken, pair.RefreshToken} {
			if strings.Contains(k, secret) || strings.Contains(strings.Join(content, " "), secret) {
				t.Fatalf("token stored in clear in %s", k)
			}
		}
	}
	if n != 4 { // three credentials and the user's index
		t.Fatalf("%d keys, want 4", n)
	}

	// A short real TTL: the key disappears without any sweep.
	short, _, err := ss.NewSession("system.user.admin", 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "expired session key removed by Redis", func() bool {
		n, _ := o.Client.Exists(ctx, ss.k.sessToken(hashOf(short))).Result()
		return n == 0
	})
	if ss.Alive(short) {
		t.Fatal("expired session alive")
	}
}

// TestSessionsTwoNodes: two stores on one prefix act as two brokerd nodes.
// A login on one is valid on the other, and every kind of revocation on one
// ends the credential on the other within a bounded time (pub/sub).
func TestSessionsTwoNodes(t *testing.T) {
	o := sessOptions(t)
	a := openSessions(t, o, SessionsOptions{})
	bo := o
	bo.Client = ownClient(t, "brokerd-sesstest-b")
	b := openSessions(t, bo, SessionsOptions{})

	tok, _, err := a.NewSession("system.user.admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if u, _, ok := b.Validate(tok); !ok || u != "system.user.admin" {
		t.Fatalf("login on A unknown on B: %q %v", u, ok)
	}
	// Once validated, B answers Alive from memory: no Redis command per check.
	var cmds atomic.Int64
	bo.Client.AddHook(countHook{&cmds})
	for range 1000 {
		if !b.Alive(tok) {
			t.Fatal("B lost the session")
		}
	}
	if n := cmds.Load(); n != 0 {
		t.Fatalf("1000 Alive checks sent %d Redis commands", n)
	}

	if err := a.Revoke(tok); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "revoke on A seen by B", func() bool { return !b.Alive(tok) })

	// Refresh rotation on B ends the old access token on A.
	p, err := a.IssueTokens("system.user.admin", time.Hour, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Alive(p.AccessToken) || !b.Alive(p.AccessToken) {
		t.Fatal("token pair not valid on both nodes")
	}
	q, err := b.Refresh(p.RefreshToken, time.Hour, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "rotation on B seen by A", func() bool { return !a.Alive(p.AccessToken) })
	if !a.Alive(q.AccessToken) {
		t.Fatal("the new access token is not valid on A")
	}

	// RevokeUser (user deleted, password changed, disabled) on B reaches A.
	s1, _, _ := a.NewSession("system.user.kate", time.Hour)
	s2, _, _ := b.NewSession("system.user.kate", time.Hour)
	if !a.Alive(s1) || !a.Alive(s2) {
		t.Fatal("sessions of kate")
	}
	if n, err := b.RevokeUser("system.user.kate"); err != nil || n != 2 {
		t.Fatalf("RevokeUser = %d, %v", n, err)
	}
	eventually(t, 5*time.Second, "RevokeUser on B seen by A", func() bool { return !a.Alive(s1) && !a.Alive(s2) })
}

// TestSessionsRefreshRaceTwoNodes: the same refresh token used on two nodes
// at once is accepted exactly once.
func TestSessionsRefreshRaceTwoNodes(t *testing.T) {
	o := sessOptions(t)
	nodes := []*Sessions{openSessions(t, o, SessionsOptions{}), openSessions(t, o, SessionsOptions{})}
	for round := range 20 {
		p, err := nodes[0].IssueTokens("system.user.admin", time.Hour, 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var wins atomic.Int32
		start := make(chan struct{})
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := nodes[i%2].Refresh(p.RefreshToken, time.Hour, 2*time.Hour)
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, auth.ErrInvalidToken):
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if w := wins.Load(); w != 1 {
			t.Fatalf("round %d: %d refreshes succeeded, want 1", round, w)
		}
	}
}

// TestSessionsRecheckAfterReconnect: a revocation B never hears of (its
// message lost while the subscription was down — simulated by deleting the
// key without PUBLISH) is found when B resubscribes and re-checks.
func TestSessionsRecheckAfterReconnect(t *testing.T) {
	o := sessOptions(t)
	a := openSessions(t, o, SessionsOptions{})
	name := "brokerd-sesstest-kill-" + strings.TrimSuffix(strings.TrimPrefix(o.Prefix, "brokerd-sesstest-"), ":")
	bo := o
	bo.Client = ownClient(t, name)
	b := openSessions(t, bo, SessionsOptions{Revalidate: time.Hour})
	tok, _, err := a.NewSession("system.user.admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Alive(tok) {
		t.Fatal("B does not accept the session")
	}
	ctx := context.Background()
	if err := o.Client.Del(ctx, a.k.sessToken(hashOf(tok))).Err(); err != nil {
		t.Fatal(err)
	}
	if !b.Alive(tok) {
		t.Fatal("B asked Redis instead of its cache") // the premise of this test
	}
	redistest.KillPubSub(t, o.Client, name)
	eventually(t, 10*time.Second, "B re-checked its cache after resubscribing", func() bool { return !b.Alive(tok) })

	// The subscription works again: a normal revocation on A reaches B.
	tok2, _, _ := a.NewSession("system.user.admin", time.Hour)
	if !b.Alive(tok2) {
		t.Fatal("new session on B")
	}
	if err := a.Revoke(tok2); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "revocation after the reconnect", func() bool { return !b.Alive(tok2) })
}

// TestSessionsPeriodicRecheck: even without a noticed disconnect, cached
// credentials are re-checked every Revalidate.
func TestSessionsPeriodicRecheck(t *testing.T) {
	o := sessOptions(t)
	b := openSessions(t, o, SessionsOptions{Revalidate: 100 * time.Millisecond})
	tok, _, err := b.NewSession("system.user.admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Client.Del(context.Background(), b.k.sessToken(hashOf(tok))).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "periodic re-check", func() bool { return !b.Alive(tok) })
}

// countHook counts the commands a client sends.
type countHook struct{ n *atomic.Int64 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}
