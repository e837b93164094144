//go:build stress

package faulttest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/brokerd/brokerd/sioclient"
)

// idleConns is how many idle Socket.IO connections TestIdleConnections holds.
const idleConns = 10000

// raiseNoFile lifts the soft RLIMIT_NOFILE to at least n (up to the hard
// limit when it cannot be raised further), or skips.
func raiseNoFile(t *testing.T, n uint64) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Skip(err)
	}
	if l.Cur >= n {
		return
	}
	want := syscall.Rlimit{Cur: n, Max: max(l.Max, n)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		if l.Max < n {
			t.Skipf("RLIMIT_NOFILE hard limit %d < %d and cannot be raised: %v", l.Max, n, err)
		}
		want = syscall.Rlimit{Cur: n, Max: l.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			t.Skip(err)
		}
	}
}

const idleChildEnv = "BROKERD_IDLE_SERVER_CHILD"

// TestIdleServerChild is the server process of TestIdleConnections: it
// prints its address, answers every line on stdin with a measurement of
// itself and exits at EOF.
func TestIdleServerChild(t *testing.T) {
	if os.Getenv(idleChildEnv) == "" {
		t.Skip("only run as the child of TestIdleConnections")
	}
	raiseNoFile(t, idleConns+1000)
	srv := startServer(t)
	fmt.Printf("addr %s\n", srv.Addr)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := measure()
		fmt.Printf("m %d %d %d %d\n", m.goroutines, m.heap, m.rss, m.fds)
	}
}

// idleChild is the running server process.
type idleChild struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines *bufio.Scanner
}

func (c *idleChild) measure(t *testing.T) baseline {
	t.Helper()
	if _, err := io.WriteString(c.in, "m\n"); err != nil {
		t.Fatal(err)
	}
	if !c.lines.Scan() {
		t.Fatal("server child ended")
	}
	var b baseline
	if _, err := fmt.Sscanf(c.lines.Text(), "m %d %d %d %d", &b.goroutines, &b.heap, &b.rss, &b.fds); err != nil {
		t.Fatalf("child said %q: %v", c.lines.Text(), err)
	}
	return b
}

// TestIdleConnections holds 10,000 idle connections (EIO3 and EIO4 halves)
// to a server in a child process, checks that held and fresh clients still
// get answers, and reports the server's RSS (VmRSS of its
// /proc/self/status), heap, goroutines and descriptors per connection.
// The server runs apart so that each process needs only ~10,000
// descriptors and the figures are the server's alone.
func TestIdleConnections(t *testing.T) {
	raiseNoFile(t, idleConns+1000)
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleServerChild$", "-test.timeout=20m")
	cmd.Env = append(os.Environ(), idleChildEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child := &idleChild{cmd: cmd, in: in, lines: bufio.NewScanner(out)}
	defer func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	if !child.lines.Scan() || !strings.HasPrefix(child.lines.Text(), "addr ") {
		t.Fatalf("server child did not start: %q", child.lines.Text())
	}
	addr := strings.TrimPrefix(child.lines.Text(), "addr ")
	srv := &server{URL: "http://" + addr, Addr: addr}
	for _, eio := range []int{3, 4} { // warm up, as in TestConnectChurn
		if err := churnOnce(srv, eio, true); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	base := child.measure(t)

	conns := make([]*sioclient.Conn, idleConns)
	start := time.Now()
	deadline := start.Add(5 * time.Minute)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= idleConns || time.Now().After(deadline) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				c, err := srv.dial(ctx, 3+i%2)
				cancel()
				if err != nil {
					if failed.Add(1) == 1 {
						t.Errorf("dial %d: %v", i, err)
					}
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if failed.Load() > 0 || time.Now().After(deadline) {
		t.Fatalf("%d dials failed; took %v", failed.Load(), time.Since(start))
	}
	t.Logf("%d connections open after %v", idleConns, time.Since(start).Round(time.Millisecond))

	time.Sleep(10 * time.Second) // idle
	held := child.measure(t)
	for _, i := range []int{0, 1, idleConns / 2, idleConns - 1} {
		if err := getVersion(conns[i], 10*time.Second); err != nil {
			t.Errorf("idle connection %d: %v", i, err)
		}
	}
	if err := churnOnce(srv, 4, true); err != nil {
		t.Errorf("fresh client while %d are held: %v", idleConns, err)
	}
	per := func(a, b int64) float64 { return float64(a-b) / idleConns }
	t.Logf("server holding %d idle connections: RSS %.1f MB → %.1f MB (%.1f kB per connection); Go heap %.1f MB → %.1f MB (%.1f kB per connection); goroutines %d → %d (%.1f per connection); fds %d → %d",
		idleConns, float64(base.rss)/1024, float64(held.rss)/1024, per(held.rss, base.rss),
		mb(base.heap), mb(held.heap), per(int64(held.heap), int64(base.heap))/1024,
		base.goroutines, held.goroutines, per(int64(held.goroutines), int64(base.goroutines)), base.fds, held.fds)

	closeStart := time.Now()
	for i, c := range conns {
		c.Close()
		conns[i] = nil
	}
	t.Logf("closed %d connections in %v", idleConns, time.Since(closeStart).Round(time.Millisecond))
	time.Sleep(5 * time.Second)
	after := child.measure(t)
	t.Logf("server after close: %d goroutines, heap %.1f MB, RSS %.1f MB, %d fds (baseline %d, %.1f MB, %.1f MB, %d); leak checks are TestConnectChurn's",
		after.goroutines, mb(after.heap), float64(after.rss)/1024, after.fds, base.goroutines, mb(base.heap), float64(base.rss)/1024, base.fds)
	if after.fds > base.fds+idleConns/10 {
		t.Errorf("server kept %d descriptors after every client closed (baseline %d)", after.fds, base.fds)
	}
}
