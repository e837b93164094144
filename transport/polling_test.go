package transport

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestPollingGetAnsweredWhenSessionEnds: a GET waiting for data gets an
// answer (a close packet) when the server ends the session, for both
// protocol versions.
func TestPollingGetAnsweredWhenSessionEnds(t *testing.T) {
	srv, hs := testServer(t, Options{})
	for _, eio := range []int{3, 4} {
		var sid string
		if eio == 3 {
			sid, _ = pollEIO3(t, hs)
		} else {
			sid = pollEIO4(t, hs)
		}
		type result struct {
			body string
			err  error
		}
		got := make(chan result, 1)
		go func() {
			resp, err := testHTTP.Get(fmt.Sprintf("%s/socket.io/?EIO=%d&transport=polling&sid=%s", hs.URL, eio, sid))
			if err != nil {
				got <- result{err: err}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got <- result{body: string(b)}
		}()
		time.Sleep(100 * time.Millisecond) // let the GET become the pending poll
		srv.closeSession(sid)
		r := <-got
		if r.err != nil {
			t.Fatalf("EIO%d: pending GET not answered: %v", eio, r.err)
		}
		if !strings.HasSuffix(r.body, "1") {
			t.Errorf("EIO%d: pending GET answered with %q, want a close packet", eio, r.body)
		}
	}
}

// pollEIO4 performs an EIO4 polling handshake including the namespace
// CONNECT and returns the sid.
func pollEIO4(t *testing.T, hs *httptest.Server) string {
	t.Helper()
	resp, err := testHTTP.Get(hs.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var open struct {
		Sid string `json:"sid"`
	}
	if !strings.HasPrefix(string(b), "0{") || json.Unmarshal(b[1:], &open) != nil || open.Sid == "" {
		t.Fatalf("open %q", b)
	}
	if code, err := postPoll(hs, 4, open.Sid, "40"); err != nil || code != 200 {
		t.Fatalf("post %d %v", code, err)
	}
	if got := getPoll(t, hs, 4, open.Sid); !strings.HasPrefix(got[0], `40{"sid":"`) {
		t.Fatalf("connect answer %q", got)
	}
	return open.Sid
}
