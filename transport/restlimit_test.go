package transport

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAddrLimiterBucket(t *testing.T) {
	l := newAddrLimiter(10)
	now := time.Unix(1000, 0)
	for i := range 10 { // one second's burst
		if ok, _ := l.allow("a", now); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.allow("a", now)
	if ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Fatalf("over the burst: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Fatal("another address is limited by the first one's requests")
	}
	if ok, _ := l.allow("a", now.Add(100*time.Millisecond)); !ok {
		t.Fatal("no token after it refilled")
	}
	// Idle addresses are forgotten once the map is large.
	for i := range addrLimiterIdle {
		l.allow(fmt.Sprint("x", i), now)
	}
	l.allow("new", now.Add(time.Hour))
	if len(l.m) > 2 {
		t.Fatalf("%d buckets kept after a sweep", len(l.m))
	}
}

// A client over the rate gets 429 with Retry-After, the refused writes
// change nothing, and it is served again once tokens are back.
func TestRESTRateLimit(t *testing.T) {
	srv, hs := testServer(t, Options{Limits: Limits{EventsPerSecond: 5}})
	put := func(v int) *http.Response {
		req, _ := http.NewRequest(http.MethodPut, hs.URL+"/api/v1/states/rl.0.x", strings.NewReader(strconv.Itoa(v)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	lastOK, refused := -1, 0
	for i := range 20 {
		resp := put(i)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			lastOK = i
		case http.StatusTooManyRequests:
			refused++
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			var e map[string]string
			if json.Unmarshal(body, &e) != nil || e["error"] != "too many requests" {
				t.Fatalf("429 body %s", body)
			}
		default:
			t.Fatalf("PUT %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if refused < 10 || lastOK < 0 {
		t.Fatalf("20 writes at once with a rate of 5/s: %d refused, last accepted %d", refused, lastOK)
	}
	if st, ok := srv.st.States.Get("rl.0.x"); !ok || st.Val != float64(lastOK) {
		t.Fatalf("state after refused writes: %+v, want the last accepted value %d", st, lastOK)
	}
	// File hosting counts against the same address.
	resp, err := http.Get(hs.URL + "/files/vis.0/x.html")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("file GET while limited: %d", resp.StatusCode)
	}
	time.Sleep(time.Second)
	resp = put(99)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after a second: %d", resp.StatusCode)
	}
}
