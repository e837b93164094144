package auth

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/brokerd/brokerd/config"
	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/objects"
)

func TestMain(m *testing.M) {
	// PBKDF2 with 10000 rounds is slow under -race; tests that need the
	// production count call productionHashing.
	newHashIterations = 50
	os.Exit(m.Run())
}

func productionHashing(t *testing.T) {
	newHashIterations = hashIterations
	t.Cleanup(func() { newHashIterations = 50 })
}

// adminPassword is the password of system.user.admin in every test service.
const adminPassword = "iobroker"

// clock is an injectable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     testing.TB
	dir   string
	db    *database.DB
	store *objects.BoltStore
	svc   *Service
	clock *clock
	opts  Options
}

// newEnv opens a fresh database with the default objects (admin password
// "iobroker") and an auth service with auth enabled.
func newEnv(t testing.TB, mod ...func(*Options)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: newClock()}
	e.open(mod...)
	hash, err := HashPassword(adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.InitDefaults("test", hash); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) open(mod ...func(*Options)) {
	e.t.Helper()
	db, err := database.Open(e.dir)
	if err != nil {
		e.t.Fatal(err)
	}
	store, err := objects.Open(db)
	if err != nil {
		e.t.Fatal(err)
	}
	o := Options{
		DB: db, Objects: store,
		Config: config.Auth{Enabled: true, DefaultUser: "admin",
			SessionTTL: config.Duration(24 * time.Hour), TokenTTL: config.Duration(time.Hour)},
		SweepInterval: -1,
		Now:           e.clock.Now,
	}
	for _, m := range mod {
		m(&o)
	}
	svc, err := New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	e.db, e.store, e.svc, e.opts = db, store, svc, o
	e.t.Cleanup(e.close)
}

func (e *env) close() {
	if e.svc != nil {
		e.svc.Close()
		e.svc = nil
	}
	if e.db != nil {
		_ = e.db.Close()
		e.db = nil
	}
}

// reopen closes and reopens database, store and service on the same files.
func (e *env) reopen() {
	e.t.Helper()
	e.close()
	e.open(func(o *Options) {
		o.Config = e.opts.Config
		o.Limits = e.opts.Limits
	})
}

// bolt is the service's bbolt session store (for Len).
func (e *env) bolt() *Sessions { return e.svc.Sessions().(*Sessions) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
