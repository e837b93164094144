// Package redistest connects tests to the local Redis at Addr: each test
// gets a client of its own and a fresh key prefix whose keys are deleted when
// it ends, and is skipped (not failed) when no Redis answers there.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Addr is where the tests expect Redis.
const Addr = "127.0.0.1:6379"

// Open returns a client of database db and a fresh prefix stem+"<12 hex
// digits>:" (see OpenOptions).
func Open(t testing.TB, db int, stem string) (*redis.Client, string) {
	t.Helper()
	return OpenOptions(t, &redis.Options{DB: db}, stem)
}

// OpenOptions is Open with the client options o (Addr when o.Addr is
// empty). Every key under the prefix is deleted when the test ends, then the
// client is closed. The stem names the caller's tests so that packages
// sharing a database do not collide; it must hold no glob characters.
func OpenOptions(t testing.TB, o *redis.Options, stem string) (*redis.Client, string) {
	t.Helper()
	rdb := Client(t, o)
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := stem + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() { DeletePrefix(rdb, prefix) }) // runs before Client's Close
	return rdb, prefix
}

// Client returns a client with the options o (Addr when o.Addr is empty),
// closed when the test ends. The test is skipped when Redis does not answer
// PING within a second.
func Client(t testing.TB, o *redis.Options) *redis.Client {
	t.Helper()
	opts := *o
	if opts.Addr == "" {
		opts.Addr = Addr
	}
	rdb := redis.NewClient(&opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		t.Skipf("redis at %s not reachable (%v): this test needs it", opts.Addr, err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// DeletePrefix deletes every key whose name starts with prefix (which must
// hold no glob characters).
func DeletePrefix(rdb *redis.Client, prefix string) {
	ctx := context.Background()
	it := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for it.Next(ctx) {
		keys = append(keys, it.Val())
		if len(keys) == 1000 {
			rdb.Unlink(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rdb.Unlink(ctx, keys...)
	}
}

// KillPubSub kills, through admin, the connection of the clients named name
// that holds channel or pattern subscriptions, as a lost network would; the
// test fails unless exactly one such connection was found.
func KillPubSub(t testing.TB, admin *redis.Client, name string) {
	t.Helper()
	ctx := context.Background()
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				f[k] = v
			}
		}
		if f["name"] != name || (f["sub"] == "0" || f["sub"] == "") && (f["psub"] == "0" || f["psub"] == "") {
			continue
		}
		if err := admin.Do(ctx, "CLIENT", "KILL", "ID", f["id"]).Err(); err != nil {
			t.Fatal(err)
		}
		killed++
	}
	if killed != 1 {
		t.Fatalf("killed %d pub/sub connections named %s, want 1", killed, name)
	}
}
