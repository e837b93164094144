package transport

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pythonWithWebsockets finds a python3 that can import websockets (Debian's
// python3-websockets lives in /usr/bin/python3, which a pyenv python3 on
// PATH may hide).
func pythonWithWebsockets() string {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import websockets").Run() == nil {
			return p
		}
	}
	return ""
}

// TestPythonWebSocketClient drives testdata/ws_client.py: a non-Go client
// reads the state stream (with the reader's ACL) while Go writes.
func TestPythonWebSocketClient(t *testing.T) {
	py := pythonWithWebsockets()
	if py == "" {
		t.Skip("python3 with the websockets module not found (apt-get install -y python3-websockets)")
	}
	e := newAPIEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/ws_client.py", "ws"+strings.TrimPrefix(e.hs.URL, "http"), e.tokens["reader"], "test.0.*", strconv.Itoa(2))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if line == "READY" {
			// The protected state must not reach the reader; the open one must.
			e.setState("test.0.secret", "nope")
			if code, b, _ := e.do("writer", "PUT", "/api/v1/states/test.0.open", []byte(`{"val": 11, "ack": true}`)); code != 200 {
				t.Errorf("%d %s", code, b)
			}
			e.setState("test.0.open", 12.0)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("python printed %q", line)
		}
		lines = append(lines, m)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ws_client.py: %v\n%s", err, stderr.String())
	}
	if len(lines) != 5 {
		t.Fatalf("python output: %v\n%s", lines, stderr.String())
	}
	if lines[0]["unauthorized"] != 401.0 {
		t.Errorf("without token: %v", lines[0])
	}
	if snap := lines[1]["snapshot"].([]any); len(snap) != 1 || snap[0] != "test.0.open" {
		t.Errorf("snapshot: %v", lines[1])
	}
	for i, want := range []float64{11, 12} {
		ch := lines[2+i]["change"].(map[string]any)
		st, _ := ch["state"].(map[string]any)
		if ch["type"] != "stateChange" || ch["id"] != "test.0.open" || st["val"] != want {
			t.Errorf("change %d: %v", i, ch)
		}
	}
	if st := lines[4]["stats"].(map[string]any); st["type"] != "stats" {
		t.Errorf("stats: %v", st)
	}
}
