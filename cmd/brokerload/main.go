// Command brokerload is a load generator that speaks the ioBroker Socket.IO
// protocol (Engine.IO v3 or v4 over WebSocket), so the same scenario runs
// against brokerd and against ioBroker's socketio adapter.
//
//	brokerload fanout --url http://127.0.0.1:8084 --writers 4 --subs 20 --rate 2000
//	brokerload fanout --url http://127.0.0.1:18931,http://127.0.0.1:18932 --writer-nodes 1
//	brokerload bulk   --preload 10000
//	brokerload idle   --conns 1000 --pid 1234
//	brokerload vis    --compare http://127.0.0.1:18084 --rounds 3 --json vis.json
//
// Every scenario is bounded in time and connection count, talks to loopback
// endpoints only and stops by itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/brokerd/brokerd/loadtest"
)

const usage = `usage: brokerload <fanout|bulk|idle|vis> [flags]

scenarios:
  fanout  W writers setState (at --rate total/s, or --rate 0 = as fast as --window allows),
          S subscribers on --pattern (*, prefix, exact); delivered/s, loss, latency
  bulk    getStates('*') and getObjectView('system','state',range) over --preload N states
  idle    --conns idle connections; server RSS per connection (--pid)
  vis     100 frontends on "*", 2 adapters writing 2000 states/s ack=true, admin getObjectView 1/s

Several --url (comma-separated or repeated) are the nodes of one cluster: connections are
spread over them round-robin (writers/adapters over the first --writer-nodes only) and the
output adds a per-node table.

flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed flags of one invocation.
type options struct {
	scenario string
	a        loadtest.Target
	b        *loadtest.Target
	rounds   int
	jsonPath string
	cpuProf  string

	fanout loadtest.FanoutConfig
	bulk   loadtest.BulkConfig
	idle   loadtest.IdleConfig
	vis    loadtest.VisConfig
}

func parse(args []string, stderr io.Writer) (*options, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, usage)
		return nil, errors.New("missing scenario")
	}
	o := &options{scenario: args[0]}
	fs := flag.NewFlagSet("brokerload "+o.scenario, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }

	urls := &urlList{def: "http://127.0.0.1:8084"}
	urls2 := &urlList{}
	fs.Var(urls, "url", "endpoint A (loopback only); several nodes comma-separated or repeated (default http://127.0.0.1:8084)")
	fs.Var(urls2, "compare", "endpoint B (one or several nodes, as --url): run A, B, A, B… and print ratios B/A")
	writerNodes := fs.Int("writer-nodes", 0, "fanout/vis: writers (adapters) on the first N nodes of --url only (0 = all)")
	eio := fs.Int("eio", 3, "Engine.IO version 3 or 4 (ioBroker speaks only 3)")
	eio2 := fs.Int("eio2", 0, "Engine.IO version for --compare (default: --eio)")
	user := fs.String("user", "", "user name (handshake query)")
	pass := fs.String("pass", "", "password (handshake query)")
	pid := fs.String("pid", "", "comma-separated pids of server A for RSS (idle)")
	pid2 := fs.String("pid2", "", "comma-separated pids of server B for RSS (idle)")
	dur := fs.Duration("duration", 10*time.Second, "measured time per run (bulk: per operation)")
	fs.IntVar(&o.rounds, "rounds", 1, "runs per endpoint")
	fs.StringVar(&o.jsonPath, "json", "", "write the results as JSON to this file")
	fs.StringVar(&o.cpuProf, "cpuprofile", "", "write brokerload's own CPU profile to this file")

	fs.IntVar(&o.fanout.Writers, "writers", 4, "fanout: writer connections")
	fs.IntVar(&o.fanout.Subs, "subs", 20, "fanout: subscriber connections")
	fs.Float64Var(&o.fanout.Rate, "rate", 1000, "fanout/vis: total setState/s (fanout: 0 = as fast as acks allow)")
	fs.IntVar(&o.fanout.Window, "window", 64, "fanout: unacknowledged setState per writer")
	fs.StringVar(&o.fanout.Pattern, "pattern", "*", "fanout: *, prefix or exact")
	fs.IntVar(&o.fanout.IDs, "ids", 10, "fanout: state ids per writer")
	fs.BoolVar(&o.fanout.Ack, "ack", false, "fanout: write with ack=true")
	fs.IntVar(&o.bulk.Preload, "preload", 1000, "bulk: states/objects to create and read")
	bulkConns := fs.Int("conns", 0, "bulk: concurrent clients (default 4); idle: connections (default 1000)")
	fs.StringVar(&o.idle.Subscribe, "subscribe", "", "idle: pattern every connection subscribes")
	fs.IntVar(&o.vis.Frontends, "frontends", 100, "vis: frontend connections subscribed to *")
	fs.IntVar(&o.vis.Adapters, "adapters", 2, "vis: adapter connections writing ack=true")
	fs.IntVar(&o.vis.States, "states", 500, "vis: states per adapter")
	fs.DurationVar(&o.vis.Admin, "admin-interval", time.Second, "vis: getObjectView interval of the admin")

	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *dur <= 0 || *dur > loadtest.MaxDuration {
		return nil, fmt.Errorf("--duration must be in (0, %v]", loadtest.MaxDuration)
	}
	if o.rounds < 1 || o.rounds > 20 {
		return nil, errors.New("--rounds must be 1..20")
	}
	pids, err := parsePIDs(*pid)
	if err != nil {
		return nil, err
	}
	if *eio != 3 && *eio != 4 {
		return nil, errors.New("--eio must be 3 or 4")
	}
	if *writerNodes < 0 {
		return nil, errors.New("--writer-nodes must be >= 0")
	}
	o.fanout.WriterNodes, o.vis.AdapterNodes = *writerNodes, *writerNodes
	o.a, err = urls.target()
	if err != nil {
		return nil, err
	}
	o.a.EIO, o.a.User, o.a.Pass, o.a.PIDs, o.a.Label = *eio, *user, *pass, pids, "A"
	if len(urls2.urls) > 0 {
		b, err := urls2.target()
		if err != nil {
			return nil, err
		}
		pids2, err := parsePIDs(*pid2)
		if err != nil {
			return nil, err
		}
		e2 := *eio2
		if e2 == 0 {
			e2 = *eio
		}
		if e2 != 3 && e2 != 4 {
			return nil, errors.New("--eio2 must be 3 or 4")
		}
		b.EIO, b.User, b.Pass, b.PIDs, b.Label = e2, *user, *pass, pids2, "B"
		o.b = &b
	}
	o.fanout.Duration, o.bulk.Duration, o.idle.Duration, o.vis.Duration = *dur, *dur, *dur, *dur
	o.vis.Rate = o.fanout.Rate
	if !flagSet(fs, "rate") {
		o.vis.Rate = 2000
	}
	o.bulk.Conns, o.idle.Conns = 4, 1000
	if *bulkConns > 0 {
		o.bulk.Conns, o.idle.Conns = *bulkConns, *bulkConns
	}
	switch o.scenario {
	case "fanout", "bulk", "idle", "vis":
	default:
		fmt.Fprint(stderr, usage)
		return nil, fmt.Errorf("unknown scenario %q", o.scenario)
	}
	return o, nil
}

// urlList is --url/--compare: comma-separated, repeatable; the first use
// replaces the default.
type urlList struct {
	def  string
	urls []string
}

func (l *urlList) String() string { return strings.Join(l.urls, ",") }

func (l *urlList) Set(v string) error {
	for u := range strings.SplitSeq(v, ",") {
		if u = strings.TrimSpace(u); u == "" {
			return fmt.Errorf("empty url in %q", v)
		}
		l.urls = append(l.urls, u)
	}
	return nil
}

// target checks every URL and returns them as one target.
func (l *urlList) target() (loadtest.Target, error) {
	urls := l.urls
	if len(urls) == 0 {
		urls = []string{l.def}
	}
	if len(urls) > loadtest.MaxNodes {
		return loadtest.Target{}, fmt.Errorf("%d urls: at most %d nodes", len(urls), loadtest.MaxNodes)
	}
	seen := map[string]bool{}
	for _, u := range urls {
		if err := loadtest.CheckLoopback(u); err != nil {
			return loadtest.Target{}, err
		}
		if seen[u] {
			return loadtest.Target{}, fmt.Errorf("url %q given twice", u)
		}
		seen[u] = true
	}
	t := loadtest.Target{URL: urls[0]}
	if len(urls) > 1 {
		t.Nodes = urls
	}
	return t, nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

func parsePIDs(s string) ([]int, error) {
	var pids []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := strconv.Atoi(f)
		if err != nil || p <= 0 {
			return nil, fmt.Errorf("bad pid %q", f)
		}
		pids = append(pids, p)
	}
	return pids, nil
}

// scenario returns the function measuring o.scenario and a deadline for one run.
func (o *options) scenarioFunc() (loadtest.Scenario, time.Duration) {
	d := o.fanout.Duration
	switch o.scenario {
	case "fanout":
		return func(ctx context.Context, t loadtest.Target) (*loadtest.Result, error) {
			return loadtest.Fanout(ctx, t, o.fanout)
		}, d + 2*time.Minute
	case "bulk":
		return func(ctx context.Context, t loadtest.Target) (*loadtest.Result, error) {
			return loadtest.Bulk(ctx, t, o.bulk)
		}, 2*d + 5*time.Minute
	case "idle":
		return func(ctx context.Context, t loadtest.Target) (*loadtest.Result, error) {
			return loadtest.Idle(ctx, t, o.idle)
		}, d + 3*time.Minute
	default:
		return func(ctx context.Context, t loadtest.Target) (*loadtest.Result, error) {
			return loadtest.Vis(ctx, t, o.vis)
		}, d + 2*time.Minute
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "brokerload:", err)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if o.cpuProf != "" {
		f, err := os.Create(o.cpuProf)
		if err != nil {
			fmt.Fprintln(stderr, "brokerload:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "brokerload:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	s, budget := o.scenarioFunc()
	runs, err := loadtest.RunRounds(ctx, s, o.a, o.b, o.rounds, budget, stderr)
	loadtest.PrintRuns(stdout, runs)
	rep := &loadtest.Report{Tool: "brokerload", Command: append([]string{"brokerload"}, args...), Scenario: o.scenario, URLA: o.a.Endpoint(), Runs: runs}
	if o.b != nil {
		rep.URLB = o.b.Endpoint()
		a, b := loadtest.Split(runs)
		rep.Ratios = loadtest.Compare(a, b)
		if len(rep.Ratios) > 0 {
			fmt.Fprintf(stdout, "\nB/A (A=%s EIO%d, B=%s EIO%d, median of %d rounds)\n", o.a.Endpoint(), o.a.EIO, o.b.Endpoint(), o.b.EIO, o.rounds)
			loadtest.PrintRatios(stdout, rep.Ratios)
		}
	}
	if o.jsonPath != "" {
		if werr := rep.WriteJSON(o.jsonPath); werr != nil {
			fmt.Fprintln(stderr, "brokerload:", werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "brokerload:", err)
		return 1
	}
	return 0
}
