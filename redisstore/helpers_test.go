package redisstore

import (
	"testing"
	"time"

	"github.com/brokerd/brokerd/redistest"
	"github.com/redis/go-redis/v9"
)

// testDB is where the tests run: a database other than 0, each test under
// its own key prefix, removed afterwards.
const testDB = 9

// testOptions returns options with a fresh "brokerd-test-…" prefix whose
// keys are deleted when the test ends; the test is skipped when no Redis
// answers.
func testOptions(t testing.TB) Options {
	t.Helper()
	o := optionsUnder(t, "brokerd-test-")
	o.WaitDelivery = 10 * time.Second
	return o
}

// optionsUnder returns options with a client of its own and a fresh prefix
// stem+"…", removed when the test ends.
func optionsUnder(t testing.TB, stem string) Options {
	t.Helper()
	rdb, prefix := redistest.OpenOptions(t, &redis.Options{DB: testDB, PoolSize: 64}, stem)
	return Options{Client: rdb, Prefix: prefix}
}
