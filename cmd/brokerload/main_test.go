package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brokerd/brokerd/loadtest"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		check   func(*options) error
	}{
		{args: nil, wantErr: "missing scenario"},
		{args: []string{"nope"}, wantErr: "unknown scenario"},
		{args: []string{"fanout", "--url", "http://10.0.0.1:8084"}, wantErr: "loopback"},
		{args: []string{"fanout", "--compare", "http://example.com:8084"}, wantErr: "loopback"},
		{args: []string{"fanout", "--eio", "2"}, wantErr: "--eio"},
		{args: []string{"idle", "--pid", "12,x"}, wantErr: "bad pid"},
		{args: []string{"fanout", "--duration", "11m"}, wantErr: "--duration"},
		{args: []string{"fanout", "--rate", "0", "--window", "8", "--pattern", "exact", "--compare", "http://localhost:18084", "--eio", "4", "--eio2", "3"},
			check: func(o *options) error {
				if o.fanout.Rate != 0 || o.fanout.Window != 8 || o.fanout.Pattern != "exact" {
					return fmt.Errorf("fanout %+v", o.fanout)
				}
				if o.a.EIO != 4 || o.b == nil || o.b.EIO != 3 || o.b.URL != "http://localhost:18084" {
					return fmt.Errorf("targets %+v %+v", o.a, o.b)
				}
				return nil
			}},
		{args: []string{"vis", "--duration", "3s"},
			check: func(o *options) error {
				if o.vis.Rate != 2000 || o.vis.Frontends != 100 || o.vis.Duration != 3*time.Second {
					return fmt.Errorf("vis %+v", o.vis)
				}
				return nil
			}},
		{args: []string{"fanout", "--url", "http://127.0.0.1:1,http://127.0.0.1:2", "--url", "http://localhost:3", "--writer-nodes", "1"},
			check: func(o *options) error {
				if o.a.URL != "http://127.0.0.1:1" || len(o.a.Nodes) != 3 || o.a.Nodes[2] != "http://localhost:3" || o.a.EIO != 3 || o.a.Label != "A" {
					return fmt.Errorf("target %+v", o.a)
				}
				if o.fanout.WriterNodes != 1 || o.vis.AdapterNodes != 1 || o.b != nil {
					return fmt.Errorf("fanout %+v vis %+v", o.fanout, o.vis)
				}
				return nil
			}},
		{args: []string{"bulk", "--url", "http://127.0.0.1:1", "--compare", "http://127.0.0.1:2,http://127.0.0.1:3"},
			check: func(o *options) error {
				if o.a.Nodes != nil || o.a.Endpoint() != "http://127.0.0.1:1" || o.b == nil || len(o.b.Nodes) != 2 || o.b.Label != "B" {
					return fmt.Errorf("targets %+v %+v", o.a, o.b)
				}
				return nil
			}},
		{args: []string{"fanout", "--url", "http://127.0.0.1:1,http://10.0.0.1:2"}, wantErr: "loopback"},
		{args: []string{"fanout", "--url", "http://127.0.0.1:1,"}, wantErr: "empty url"},
		{args: []string{"fanout", "--url", "http://127.0.0.1:1", "--url", "http://127.0.0.1:1"}, wantErr: "twice"},
		{args: []string{"fanout", "--writer-nodes", "-1"}, wantErr: "--writer-nodes"},
		{args: []string{"idle", "--conns", "50", "--pid", "7,8"},
			check: func(o *options) error {
				if o.idle.Conns != 50 || len(o.a.PIDs) != 2 || o.a.URL != "http://127.0.0.1:8084" || o.a.EIO != 3 {
					return fmt.Errorf("idle %+v %+v", o.idle, o.a)
				}
				return nil
			}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			o, err := parse(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.check(o); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestFanoutAgainstBrokerd runs a 2-second fanout against the brokerd binary
// named by BROKERD_BIN (go build -o /tmp/brokerd ./cmd/brokerd).
func TestFanoutAgainstBrokerd(t *testing.T) {
	bin := os.Getenv("BROKERD_BIN")
	if bin == "" {
		t.Skip("BROKERD_BIN is unset: build brokerd (go build -o /tmp/brokerd ./cmd/brokerd) and set BROKERD_BIN=/tmp/brokerd to run this test")
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "brokerd.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "listen: %q\ndata_dir: %q\n", addr, filepath.Join(dir, "data")), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	url := "http://" + addr
	if err := waitSocketIO(url, 15*time.Second); err != nil {
		t.Fatalf("brokerd's Socket.IO endpoint does not answer at %s/socket.io/: %v\nlog:\n%s", url, err, logs.String())
	}
	for _, eio := range []string{"3", "4"} {
		t.Run("EIO"+eio, func(t *testing.T) {
			out := filepath.Join(dir, "fanout"+eio+".json")
			var stdout, stderr bytes.Buffer
			code := run([]string{"fanout", "--url", url, "--eio", eio, "--duration", "2s", "--writers", "2", "--subs", "4", "--rate", "500", "--json", out}, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s\nbrokerd log:\n%s", code, stdout.String(), stderr.String(), logs.String())
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var rep loadtest.Report
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			r := rep.Runs[0]
			exp, _ := r.Metric("expected deliveries")
			got, _ := r.Metric("received")
			if exp == 0 || got != exp {
				t.Fatalf("received %v of %v stateChange events\n%s", got, exp, stdout.String())
			}
			if l := r.Latency["setState→stateChange"]; l.Count == 0 {
				t.Fatalf("no latency samples: %+v", r.Latency)
			}
		})
	}
}

// waitSocketIO polls the EIO3 handshake until it answers 200.
func waitSocketIO(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get(url + "/socket.io/?EIO=3&transport=polling")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return last
}
