package auth

import (
	"errors"
	"testing"
	"time"
)

func TestRateLimitPerUser(t *testing.T) {
	e := newEnv(t)
	s := e.svc
	must(t, s.AddUser("henry", "right"))
	// Failures from changing addresses: only the user key counts them all.
	for i := range 5 {
		if _, err := s.LoginFrom("henry", "wrong", "10.0.0."+string(rune('1'+i))+":5000"); !errors.Is(err, ErrInvalidLogin) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	_, err := s.LoginFrom("henry", "right", "10.0.1.1:1")
	var rl *RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Minute {
		t.Fatalf("locked user with right password: %v", err)
	}
	// Other users are unaffected.
	if _, err := s.LoginFrom("admin", adminPassword, "10.0.1.1:1"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	// Lock passed; another failure locks again for twice as long.
	if _, err := s.LoginFrom("henry", "wrong", "10.0.1.1:1"); !errors.Is(err, ErrInvalidLogin) {
		t.Fatal(err)
	}
	if _, err := s.LoginFrom("henry", "right", "10.0.1.1:1"); !errors.As(err, &rl) || rl.RetryAfter != 2*time.Minute {
		t.Fatalf("second lock: %v", err)
	}
	e.clock.Advance(2 * time.Minute)
	// Success resets the counter: the next failure does not lock.
	if _, err := s.LoginFrom("henry", "right", "10.0.1.2:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoginFrom("henry", "wrong", "10.0.1.3:1"); !errors.Is(err, ErrInvalidLogin) {
		t.Fatal(err)
	}
	if _, err := s.LoginFrom("henry", "right", "10.0.1.3:1"); err != nil {
		t.Fatalf("after reset: %v", err)
	}
}

func TestRateLimitWindowAndCap(t *testing.T) {
	l := newLimiter(RateLimit{MaxFailures: 3, Window: time.Minute, Lockout: time.Minute, MaxLockout: 3 * time.Minute}, newClock().Now)
	c := newClock()
	l.now = c.Now
	l.fail("k")
	l.fail("k")
	c.Advance(2 * time.Minute) // pause longer than the window: counter restarts
	l.fail("k")
	l.fail("k")
	if l.check("k") != 0 {
		t.Fatal("locked although the window had passed")
	}
	l.fail("k")
	if l.check("k") != time.Minute {
		t.Fatal("not locked after 3 failures")
	}
	for range 5 {
		l.fail("k")
	}
	if d := l.check("k"); d != 3*time.Minute {
		t.Fatalf("lock %v, want capped at 3m", d)
	}
	c.Advance(time.Hour)
	l.prune()
	if len(l.m) != 0 {
		t.Fatal("prune kept stale key")
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	e := newEnv(t)
	s := e.svc
	// Spraying different names from one address locks the address.
	for i := range 5 {
		_, _ = s.LoginFrom("user"+string(rune('a'+i)), "x", "192.0.2.7:4000")
	}
	var rl *RateLimitedError
	if _, err := s.LoginFrom("admin", adminPassword, "192.0.2.7:4001"); !errors.As(err, &rl) {
		t.Fatalf("address not locked: %v", err)
	}
	if _, err := s.LoginFrom("admin", adminPassword, "192.0.2.8:4000"); err != nil {
		t.Fatalf("other address locked: %v", err)
	}
}
