package broker

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/brokerd/brokerd/auth"
	"github.com/brokerd/brokerd/config"
	"github.com/brokerd/brokerd/redistest"
	"github.com/brokerd/brokerd/sioclient"
)

// sessRedisDB is the Redis database of these tests (the redisstore tests'
// database; every test here has its own "brokerd-brokertest-…" prefix).
const sessRedisDB = 9

// redisConfig returns a store: redis configuration under a fresh prefix,
// removed when the test ends; the test is skipped without a local Redis.
func redisConfig(t *testing.T) func(*config.Config) {
	t.Helper()
	_, prefix := redistest.Open(t, sessRedisDB, "brokerd-brokertest-")
	return func(cfg *config.Config) {
		cfg.Store = "redis"
		cfg.Redis = config.Redis{Addr: redistest.Addr, DB: sessRedisDB, Prefix: prefix}
		cfg.Auth.Enabled = true
		cfg.Log.Level = "info"
	}
}

// TestLoginAndLogoutAcrossNodes: two brokerd nodes on one Redis. A browser
// session from POST /login on node 1 authenticates a socket on node 2, and
// POST /logout on node 1 makes node 2 send that socket reauthenticate and
// close it.
func TestLoginAndLogoutAcrossNodes(t *testing.T) {
	withRedis := redisConfig(t)
	node1, _ := startBroker(t, withRedis) // creates the default objects
	node2, logs2 := startBroker(t, withRedis)

	body := `{"username":"admin","password":"` + DefaultAdminPassword + `"}`
	resp, err := http.Post(node1+"/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			cookie = c
		}
	}
	if resp.StatusCode != 200 || cookie == nil || cookie.Value == "" {
		t.Fatalf("login on node 1: %d, cookie %v", resp.StatusCode, cookie)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reauth := make(chan struct{}, 1)
	c, err := sioclient.Dial(ctx, sioclient.Options{URL: node2, EIO: 4,
		Header: http.Header{"Cookie": {cookie.String()}},
		Setup: func(c *sioclient.Conn) {
			c.On("reauthenticate", func(sioclient.Message) {
				select {
				case reauth <- struct{}{}:
				default:
				}
			})
		}})
	if err != nil {
		t.Fatalf("socket on node 2 with node 1's session: %v\n%s", err, logs2.String())
	}
	defer c.Close()
	m, err := c.EmitAck(ctx, "authEnabled")
	if err != nil || len(m.Args) != 2 || string(m.Args[0]) != "true" || string(m.Args[1]) != `"admin"` {
		t.Fatalf("authEnabled on node 2: %v %s", err, m.Args)
	}

	req, _ := http.NewRequest("POST", node1+"/logout", nil)
	req.AddCookie(cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case <-reauth:
	case <-time.After(10 * time.Second):
		t.Fatal("node 2's socket got no reauthenticate after logout on node 1")
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("node 2's socket not closed after reauthenticate")
	}
	// A new socket with the old cookie is refused on both nodes.
	for _, base := range []string{node1, node2} {
		if _, err := sioclient.Dial(ctx, sioclient.Options{URL: base, EIO: 4, Header: http.Header{"Cookie": {cookie.String()}}}); err == nil {
			t.Fatalf("%s accepted a logged-out session", base)
		}
	}
}
