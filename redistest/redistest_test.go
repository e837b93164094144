package redistest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testDB is the database of these tests (the redisstore tests' database).
const testDB = 9

// Keys under a prefix are gone once its test ended; other keys stay.
func TestOpenDeletesPrefix(t *testing.T) {
	ctx := context.Background()
	admin, other := Open(t, testDB, "brokerd-redistest-other-")
	if err := admin.Set(ctx, other+"keep", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var prefix string
	t.Run("inner", func(t *testing.T) {
		var rdb *redis.Client
		rdb, prefix = Open(t, testDB, "brokerd-redistest-")
		if !strings.HasPrefix(prefix, "brokerd-redistest-") || !strings.HasSuffix(prefix, ":") || len(prefix) != len("brokerd-redistest-")+13 {
			t.Fatalf("prefix %q", prefix)
		}
		pipe := rdb.Pipeline()
		for i := range 2500 { // more than one Unlink batch
			pipe.Set(ctx, prefix+"k"+strconv.Itoa(i), "v", 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if n, err := admin.Keys(ctx, prefix+"*").Result(); err != nil || len(n) != 0 {
		t.Fatalf("after the test %d keys left under its prefix (%v)", len(n), err)
	}
	if v, err := admin.Get(ctx, other+"keep").Result(); err != nil || v != "1" {
		t.Fatalf("a key of another prefix: %q %v", v, err)
	}
}

// KillPubSub drops the subscribed connection of the named client, not its
// other connections.
func TestKillPubSub(t *testing.T) {
	admin, prefix := Open(t, testDB, "brokerd-redistest-")
	name := "redistest-" + strings.TrimSuffix(strings.TrimPrefix(prefix, "brokerd-redistest-"), ":")
	c := Client(t, &redis.Options{DB: testDB, ClientName: name})
	ctx := context.Background()
	ps := c.Subscribe(ctx, prefix+"ch")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	KillPubSub(t, admin, name)
	// Nobody reads ps, so nothing resubscribes.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := admin.PubSubNumSub(ctx, prefix+"ch").Result()
		if err == nil && n[prefix+"ch"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscription outlived the kill")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("the client's other connections: %v", err)
	}
}

// Without a Redis at the address the test is skipped, not failed.
func TestClientSkipsWithoutRedis(t *testing.T) {
	var inner *testing.T
	t.Run("inner", func(t *testing.T) {
		inner = t
		Client(t, &redis.Options{Addr: "127.0.0.1:1"})
		t.Error("Client returned without a Redis")
	})
	if !inner.Skipped() || inner.Failed() {
		t.Fatalf("skipped %v, failed %v", inner.Skipped(), inner.Failed())
	}
}
