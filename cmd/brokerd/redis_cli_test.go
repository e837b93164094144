package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/redisstore"
	"github.com/brokerd/brokerd/redistest"
)

// cliRedisDB is the Redis database of these tests; each test has its own
// "brokerd-clitest-…" prefix, removed afterwards.
const cliRedisDB = 9

// newRedisCLI is newCLI with store: redis; the test is skipped without a
// local Redis. It returns the options of the same prefix for checks that
// play another node.
func newRedisCLI(t *testing.T) (*cli, redisstore.Options) {
	t.Helper()
	rdb, prefix := redistest.Open(t, cliRedisDB, "brokerd-clitest-")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "brokerd.yaml")
	body := fmt.Sprintf("data_dir: %s\nstore: redis\nredis:\n  addr: %s\n  db: %d\n  prefix: %q\n",
		filepath.Join(dir, "data"), redistest.Addr, cliRedisDB, prefix)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, cfg: cfg, dir: dir}, redisstore.Options{Client: rdb, Prefix: prefix}
}

// TestRedisCommands: with store: redis the admin commands read and write
// Redis, through the store code: a running node (here a store on the same
// prefix) sees the CLI's writes in its change feed.
func TestRedisCommands(t *testing.T) {
	c, o := newRedisCLI(t)
	c.ok("state", "set", "dev.0.lamp", "true", "--ack")
	if out := c.ok("state", "get", "dev.0.lamp"); !strings.Contains(out, `"val": true`) || !strings.Contains(out, `"ack": true`) {
		t.Fatalf("state get: %s", out)
	}
	// No bbolt file is created: the data is in Redis.
	if _, err := os.Stat(filepath.Join(c.dir, "data")); !os.IsNotExist(err) {
		t.Fatalf("data directory touched with store: redis: %v", err)
	}

	node, err := redisstore.OpenObjects(o)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	seen := make(chan string, 16)
	node.Watch(func(ch objects.Change) { seen <- ch.ID })
	c.ok("object", "set", "dev.0.lamp", `{"type":"state","common":{"name":"Lamp","type":"boolean","role":"switch"},"native":{}}`)
	select {
	case id := <-seen:
		if id != "dev.0.lamp" {
			t.Fatalf("change of %s", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the CLI's object write did not reach another node's change feed")
	}
	out := c.ok("object", "get", "dev.0.lamp")
	if !strings.Contains(out, `"name": "Lamp"`) || !strings.Contains(out, `"from": "system.host.cli"`) {
		t.Fatalf("object get: %s", out)
	}
	if o, _ := node.Get("dev.0.lamp"); o == nil {
		t.Fatal("the object is not in Redis")
	}
	c.fails("does not exist", "object", "get", "dev.0.nope")
	c.fails("has no value", "state", "get", "dev.0.nope")

	// Backup and restore refuse with the alternative named.
	c.fails("not supported with store: redis", "backup", filepath.Join(c.dir, "b.tgz"))
	c.fails("BGSAVE", "restore", filepath.Join(c.dir, "b.tgz"))
}

// TestRedisUserCommands: users live in Redis, and changing a password
// revokes the user's sessions on every node (the shared session store).
func TestRedisUserCommands(t *testing.T) {
	c, o := newRedisCLI(t)
	c.ok("user", "add", "Bob", "--password", "s3cret-pw", "--ingroup", "user")
	if out := c.ok("user", "list"); !strings.Contains(out, "system.user.bob") || !strings.Contains(out, "system.group.user") {
		t.Fatalf("user list: %s", out)
	}
	if out := c.ok("object", "get", "system.user.bob"); !strings.Contains(out, "pbkdf2$") {
		t.Fatalf("user object: %s", out)
	}
	c.fails("User yet exists", "user", "add", "bob", "--password", "x")

	node, err := redisstore.OpenSessions(o, redisstore.SessionsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	tok, _, err := node.NewSession("system.user.bob", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !node.Alive(tok) {
		t.Fatal("session of bob")
	}
	c.ok("user", "passwd", "bob", "--password", "n3w-pw")
	deadline := time.Now().Add(10 * time.Second)
	for node.Alive(tok) {
		if time.Now().After(deadline) {
			t.Fatal("user passwd on the CLI did not end bob's session on a running node")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.ok("user", "del", "bob")
	c.fails("User does not exist", "user", "del", "bob")
}

// TestRedisUnreachable: a clear error, not a hang, when Redis does not answer.
func TestRedisUnreachable(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "brokerd.yaml")
	if err := os.WriteFile(cfg, []byte("store: redis\nredis:\n  addr: 127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, cfg: cfg, dir: dir}
	c.fails("redis 127.0.0.1:1 db 0: redis unavailable", "state", "get", "a.0.b")
	c.fails("redis unavailable", "user", "list")
}
