// Package loadtest holds the scenarios of brokerload: load generators that
// speak the ioBroker Socket.IO protocol, so the same scenario runs against
// brokerd and against ioBroker's socketio adapter, plus the histogram, pacing
// and result types they report with.
package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/brokerd/brokerd/sioclient"
)

// Bounds every scenario respects whatever the flags say.
const (
	MaxConns     = 20000
	MaxDuration  = 10 * time.Minute
	dialTimeout  = 15 * time.Second
	opTimeout    = 30 * time.Second
	dialParallel = 32
)

// MaxNodes bounds the nodes of one target.
const MaxNodes = 64

// Target is one endpoint under test: a server, or the nodes of a cluster
// (brokerd with store: redis) that the scenarios spread their connections
// over, round-robin.
type Target struct {
	URL   string   // the server, or the first node
	Nodes []string // every node's URL when there are several (Nodes[0] = URL)
	EIO   int      // 3 or 4
	User  string   // optional, sent as handshake query
	Pass  string
	PIDs  []int  // server processes whose RSS is read (idle scenario)
	Label string // "A" or "B"
}

// NodeURLs returns the URL of every node (just URL for one server).
func (t Target) NodeURLs() []string {
	if len(t.Nodes) > 0 {
		return t.Nodes
	}
	return []string{t.URL}
}

// Endpoint names the target in reports: its URL, or the nodes' URLs
// joined by commas.
func (t Target) Endpoint() string { return strings.Join(t.NodeURLs(), ",") }

// multi reports whether connections are spread over several nodes.
func (t Target) multi() bool { return len(t.NodeURLs()) > 1 }

// RoundRobin returns the node index of each of n connections spread
// round-robin over the first k nodes (k <= 0 or more than there are: all).
func (t Target) RoundRobin(n, k int) []int {
	nodes := len(t.NodeURLs())
	if k <= 0 || k > nodes {
		k = nodes
	}
	out := make([]int, n)
	for i := range out {
		out[i] = i % k
	}
	return out
}

// CheckLoopback refuses URLs whose host is not a loopback address: the tool
// generates heavy load and must never point at someone else's server.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return fmt.Errorf("url %q: scheme must be http(s) or ws(s)", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("url %q: only loopback endpoints are allowed", raw)
	}
	return nil
}

// Dial opens one Socket.IO connection to the target (its first node).
func (t Target) Dial(ctx context.Context) (*sioclient.Conn, error) { return t.DialNode(ctx, 0) }

// DialNode opens one Socket.IO connection to node i of the target.
func (t Target) DialNode(ctx context.Context, i int) (*sioclient.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	o := sioclient.Options{URL: t.NodeURLs()[i], EIO: t.EIO}
	if t.User != "" {
		o.Query = url.Values{"user": {t.User}, "pass": {t.Pass}}
		if t.EIO == 4 {
			o.Auth = map[string]any{"user": t.User, "pass": t.Pass}
		}
	}
	return sioclient.Dial(ctx, o)
}

// DialN opens n connections spread round-robin over the nodes, at most
// dialParallel at a time. On error the connections already opened are closed.
func (t Target) DialN(ctx context.Context, n int) ([]*sioclient.Conn, error) {
	return t.DialOn(ctx, t.RoundRobin(n, 0))
}

// DialOn opens one connection per entry of nodes, to that node index.
func (t Target) DialOn(ctx context.Context, nodes []int) ([]*sioclient.Conn, error) {
	n := len(nodes)
	if n > MaxConns {
		return nil, fmt.Errorf("%d connections: more than the limit of %d", n, MaxConns)
	}
	conns := make([]*sioclient.Conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, dialParallel)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], errs[i] = t.DialNode(ctx, nodes[i])
		}()
	}
	wg.Wait()
	failed := 0
	var first error
	for _, err := range errs {
		if err != nil {
			failed++
			first = firstErr(first, err)
		}
	}
	if failed > 0 {
		CloseAll(conns)
		return nil, fmt.Errorf("%d of %d connections failed, first: %w", failed, n, first)
	}
	return conns, nil
}

// CloseAll closes every non-nil connection, in parallel.
func CloseAll(conns []*sioclient.Conn) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range conns {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.Close()
		}()
	}
	wg.Wait()
}

// call sends a command, waits for the ack and returns its arguments; a
// non-null first argument (ioBroker's err) becomes an error.
func call(ctx context.Context, c *sioclient.Conn, event string, args ...any) ([]json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	m, err := c.EmitAck(ctx, event, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", event, err)
	}
	if err := ackError(m); err != nil {
		return nil, fmt.Errorf("%s: %w", event, err)
	}
	return m.Args, nil
}

// ackError returns the error an ioBroker ack carries in its first argument.
func ackError(m sioclient.Message) error {
	if len(m.Args) == 0 {
		return nil
	}
	a := m.Args[0]
	if len(a) == 0 || string(a) == "null" {
		return nil
	}
	return fmt.Errorf("server error %s", truncate(string(a), 120))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ReadRSS returns the summed VmRSS (bytes) of the processes.
func ReadRSS(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		kb, err := readVmRSS("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			return 0, err
		}
		total += kb * 1024
	}
	return total, nil
}

func readVmRSS(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) < 1 {
				break
			}
			return strconv.ParseInt(fields[0], 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no VmRSS line", path)
}

// objectFor is the state object the scenarios create for every id they write,
// so neither server logs a warning per write about a missing object.
func objectFor(id string) map[string]any {
	return map[string]any{
		"type": "state",
		"common": map[string]any{
			"name": id, "type": "string", "role": "state", "read": true, "write": true,
		},
		"native": map[string]any{},
	}
}

// pipeline sends ops on the connections with at most window unacknowledged
// requests per connection and fails on the first error ack.
func pipeline(ctx context.Context, conns []*sioclient.Conn, window, n int, op func(i int) (string, []any)) error {
	if window < 1 {
		window = 1
	}
	errc := make(chan error, len(conns))
	var wg sync.WaitGroup
	for ci, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inflight := make(chan (<-chan sioclient.Message), window)
			done := make(chan error, 1)
			go func() {
				var first error
				for ch := range inflight {
					select {
					case m, ok := <-ch:
						if !ok {
							first = firstErr(first, sioclient.ErrClosed)
						} else if err := ackError(m); err != nil {
							first = firstErr(first, err)
						}
					case <-time.After(opTimeout):
						first = firstErr(first, errors.New("ack timeout"))
					}
				}
				done <- first
			}()
			for i := ci; i < n; i += len(conns) {
				if ctx.Err() != nil {
					break
				}
				ev, args := op(i)
				ch, err := c.EmitAsync(ev, args...)
				if err != nil {
					errc <- err
					break
				}
				inflight <- ch
			}
			close(inflight)
			if err := <-done; err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	return ctx.Err()
}

func firstErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
