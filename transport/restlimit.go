package transport

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// REST and file-hosting requests have no connection to slow down, so they are
// limited per client address instead: a token bucket of EventsPerSecond
// requests per second with one second's burst, checked before
// authentication (a Basic or user/pass request costs a password hash, the
// cheapest way to burn the server's CPU). Over the rate the answer is 429
// with Retry-After and the request does nothing. Behind a reverse proxy all
// clients share its address, as for the login limiter.

// errTooManyRequests is the 429 answer.
var errTooManyRequests = &limitError{status: http.StatusTooManyRequests, msg: "too many requests"}

// addrLimiterIdle bounds how many idle buckets are kept before a sweep.
const addrLimiterIdle = 4096

type addrBucket struct {
	tokens float64
	last   time.Time
}

type addrLimiter struct {
	mu   sync.Mutex
	rate float64
	m    map[string]*addrBucket
}

func newAddrLimiter(rate int) *addrLimiter {
	return &addrLimiter{rate: float64(rate), m: map[string]*addrBucket{}}
}

// allow takes a token for addr; otherwise it says how long until one is there.
func (l *addrLimiter) allow(addr string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[addr]
	if b == nil {
		if len(l.m) >= addrLimiterIdle {
			l.sweep(now)
		}
		b = &addrBucket{tokens: l.rate, last: now}
		l.m[addr] = b
	}
	b.tokens = math.Min(l.rate, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep forgets buckets that have refilled (their clients are idle); called
// with mu held.
func (l *addrLimiter) sweep(now time.Time) {
	for a, b := range l.m {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.rate {
			delete(l.m, a)
		}
	}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limited wraps a REST or file-hosting handler with the address limit.
func (s *Server) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := s.restLimit.allow(clientAddr(r), time.Now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			s.writeError(w, r, errTooManyRequests)
			return
		}
		h(w, r)
	}
}
