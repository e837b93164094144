package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testAddr and testDB are where the tests run: a database other than 0,
// each test under its own key prefix, removed afterwards.
const (
	testAddr = "127.0.0.1:6379"
	testDB   = 9
)

// testClient returns a client, skipping the test when no Redis listens.
func testClient(t testing.TB) *redis.Client {
	t.Helper()
	c, err := net.DialTimeout("tcp", testAddr, time.Second)
	if err != nil {
		t.Skipf("redis not reachable at %s (%v): Redis backend tests skipped", testAddr, err)
	}
	c.Close()
	rdb := redis.NewClient(&redis.Options{Addr: testAddr, DB: testDB, PoolSize: 64})
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Skipf("redis at %s does not answer (%v): Redis backend tests skipped", testAddr, err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// testOptions returns options with a fresh prefix whose keys are deleted
// when the test ends.
func testOptions(t testing.TB) Options {
	t.Helper()
	rdb := testClient(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "brokerd-test-" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() { dropPrefix(rdb, prefix) })
	return Options{Client: rdb, Prefix: prefix, WaitDelivery: 10 * time.Second}
}

func dropPrefix(rdb *redis.Client, prefix string) {
	ctx := context.Background()
	it := rdb.Scan(ctx, 0, escapeGlob(prefix)+"*", 1000).Iterator()
	var ks []string
	for it.Next(ctx) {
		ks = append(ks, it.Val())
		if len(ks) == 1000 {
			rdb.Unlink(ctx, ks...)
			ks = ks[:0]
		}
	}
	if len(ks) > 0 {
		rdb.Unlink(ctx, ks...)
	}
}
