package auth

import (
	"net"
	"sync"
	"time"
)

// RateLimit throttles failed logins per client address and per user name.
// After MaxFailures failures without a pause of Window, the key is locked
// for Lockout, doubling with every further failure up to MaxLockout. While
// locked even the right password is refused. A successful login clears the
// user's counter.
type RateLimit struct {
	MaxFailures int
	Window      time.Duration
	Lockout     time.Duration
	MaxLockout  time.Duration
	// MaxEntries bounds the tracked keys (memory under a spray attack).
	MaxEntries int
}

// DefaultRateLimit: 5 failures in 15 min lock for 1 min, growing to 60 min.
var DefaultRateLimit = RateLimit{MaxFailures: 5, Window: 15 * time.Minute, Lockout: time.Minute,
	MaxLockout: time.Hour, MaxEntries: 100_000}

func (r RateLimit) withDefaults() RateLimit {
	d := DefaultRateLimit
	if r.MaxFailures > 0 {
		d.MaxFailures = r.MaxFailures
	}
	if r.Window > 0 {
		d.Window = r.Window
	}
	if r.Lockout > 0 {
		d.Lockout = r.Lockout
	}
	if r.MaxLockout > 0 {
		d.MaxLockout = r.MaxLockout
	}
	if r.MaxEntries > 0 {
		d.MaxEntries = r.MaxEntries
	}
	return d
}

type failures struct {
	count  int
	last   time.Time
	locked time.Time // until
}

type limiter struct {
	cfg RateLimit
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*failures
}

func newLimiter(cfg RateLimit, now func() time.Time) *limiter {
	return &limiter{cfg: cfg.withDefaults(), now: now, m: make(map[string]*failures)}
}

// check returns how long the longest-locked of keys stays locked (0 = free).
func (l *limiter) check(keys ...string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if f := l.m[k]; f != nil && f.locked.After(now) {
			wait = max(wait, f.locked.Sub(now))
		}
	}
	return wait
}

// fail records a failed attempt for every key.
func (l *limiter) fail(keys ...string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		f := l.m[k]
		if f == nil {
			if len(l.m) >= l.cfg.MaxEntries {
				l.pruneLocked(now, true)
			}
			f = &failures{}
			l.m[k] = f
		}
		if now.Sub(f.last) > l.cfg.Window && !f.locked.After(now) {
			f.count = 0
		}
		f.count++
		f.last = now
		if f.count >= l.cfg.MaxFailures {
			d := l.cfg.Lockout
			for i := l.cfg.MaxFailures; i < f.count && d < l.cfg.MaxLockout; i++ {
				d *= 2
			}
			f.locked = now.Add(min(d, l.cfg.MaxLockout))
		}
	}
}

// reset forgets key (successful login).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.m, key)
	l.mu.Unlock()
}

// prune drops keys whose window and lock have passed.
func (l *limiter) prune() {
	l.mu.Lock()
	l.pruneLocked(l.now(), false)
	l.mu.Unlock()
}

func (l *limiter) pruneLocked(now time.Time, full bool) {
	for k, f := range l.m {
		if now.Sub(f.last) > l.cfg.Window && !f.locked.After(now) {
			delete(l.m, k)
		}
	}
	if !full {
		return
	}
	// Still full: drop unlocked keys (random map order) down to 90 %.
	for k, f := range l.m {
		if len(l.m) < l.cfg.MaxEntries*9/10 {
			break
		}
		if !f.locked.After(now) {
			delete(l.m, k)
		}
	}
}

func ipKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	return "ip:" + host
}

func userKey(userID string) string { return "user:" + userID }

// RateLimitedError refuses a login attempt while its user or address is locked.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string { return "Too many failed login attempts" }

// LoginFrom is Login with the brute-force throttle of remoteAddr and the
// user: while either is locked a *RateLimitedError is returned without
// checking the password; a failure counts against both; success clears the
// user's counter.
func (s *Service) LoginFrom(name, password, remoteAddr string) (string, error) {
	uid := s.resolveUser(name)
	keys := []string{userKey(uid)}
	if remoteAddr != "" {
		keys = append(keys, ipKey(remoteAddr))
	}
	if wait := s.limit.check(keys...); wait > 0 {
		s.log.Info("login refused: throttled", "user", uid, "remote", remoteAddr)
		return "", &RateLimitedError{RetryAfter: wait}
	}
	id, err := s.loginID(uid, password)
	if err != nil {
		s.limit.fail(keys...)
		s.log.Info("login failed", "user", uid, "remote", remoteAddr)
		return "", err
	}
	s.limit.reset(keys[0])
	s.log.Debug("login ok", "user", id, "remote", remoteAddr)
	return id, nil
}
