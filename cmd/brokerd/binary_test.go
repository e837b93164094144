package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/brokerd/brokerd/broker"
	"github.com/brokerd/brokerd/sioclient"
)

// buildBinary compiles brokerd once per test run.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func brokerdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "brokerd-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "brokerd")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

func waitHTTP(t *testing.T, url string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within %s", url, d)
}

// TestBinaryStartsWithNoConfig runs the built binary exactly as the README's
// first command does: no arguments, embedded defaults, ./data created.
func TestBinaryStartsWithNoConfig(t *testing.T) {
	if ln, err := net.Listen("tcp", "127.0.0.1:8084"); err != nil {
		t.Skip("127.0.0.1:8084 is in use; the default address cannot be tested")
	} else {
		ln.Close()
	}
	bin := brokerdBinary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = dir
	var logs strings.Builder
	cmd.Stderr = &logs
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitHTTP(t, "http://127.0.0.1:8084/readyz", 10*time.Second)
	t.Logf("ready after %s", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(filepath.Join(dir, "data", "brokerd.db")); err != nil {
		t.Fatalf("./data not created: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sioclient.Dial(ctx, sioclient.Options{URL: "http://127.0.0.1:8084", EIO: 3})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.EmitAck(ctx, "getVersion")
	if err != nil || len(m.Args) != 3 || string(m.Args[1]) != `"`+version+`"` {
		t.Fatalf("getVersion: %v %s", err, m.Args)
	}
	m, err = c.EmitAck(ctx, "getObject", "system.config")
	if err != nil || !strings.Contains(string(m.Args[1]), `"type":"config"`) {
		t.Fatalf("getObject(system.config): %v %s", err, m.Args)
	}
	c.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, logs.String())
	}
}

// TestGracefulShutdownKeepsAcknowledgedWrites sends SIGTERM while a client
// pipelines writes; every write acknowledged before the socket closed must
// be in the store afterwards.
func TestGracefulShutdownKeepsAcknowledgedWrites(t *testing.T) {
	bin := brokerdBinary(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "brokerd.yaml")
	os.WriteFile(cfg, []byte("listen: "+addr+"\ndata_dir: "+filepath.Join(dir, "data")+"\n"), 0o600)
	cmd := exec.Command(bin, "serve", "--config", cfg)
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitHTTP(t, "http://"+addr+"/readyz", 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := sioclient.Dial(ctx, sioclient.Options{URL: "http://" + addr, EIO: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for i := 0; i < 3000; i++ {
		id := fmt.Sprintf("shutdown.0.s%d", i)
		ch, err := c.EmitAsync("setState", id, map[string]any{"val": i, "ack": true})
		if err != nil {
			break // the server closed the socket: stop writing
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case m, ok := <-ch:
				if ok && len(m.Args) == 2 && string(m.Args[0]) == "null" {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			case <-ctx.Done():
			}
		}()
		if i == 300 {
			// Stop mid-stream, once the server has acknowledged something.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				mu.Lock()
				n := len(acked)
				mu.Unlock()
				if n > 0 {
					break
				}
			}
			cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("brokerd exited with %v\n%s", err, logs.String())
		}
	case <-time.After(broker.ShutdownTimeout + 5*time.Second):
		t.Fatalf("brokerd did not stop within the shutdown timeout\n%s", logs.String())
	}
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before shutdown")
	}
	s, err := broker.OpenStores(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id := range acked {
		if _, ok := s.States.Get(id); !ok {
			t.Errorf("acknowledged write %s lost in shutdown", id)
		}
	}
	t.Logf("%d writes acknowledged before shutdown, all present", len(acked))
	if !strings.Contains(logs.String(), "stopped") {
		t.Errorf("no clean stop in the log:\n%s", logs.String())
	}
}
