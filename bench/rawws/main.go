package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/brokerd/brokerd/loadtest"
)

func main() {
	var cfg Config
	flag.IntVar(&cfg.Subs, "subs", 50, "subscriber connections")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "writing time")
	flag.Float64Var(&cfg.Rate, "rate", 0, "messages/s of the writer (0 = as fast as possible)")
	flag.IntVar(&cfg.Queue, "queue", 1024, "per-subscriber server queue")
	flag.IntVar(&cfg.Window, "window", 4096, "messages in flight to the slowest subscriber (0 = unbounded)")
	jsonPath := flag.String("json", "", "write the result as JSON to this file")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawws:", err)
		os.Exit(1)
	}
	res.Label, res.Round = "raw", 1
	loadtest.PrintRuns(os.Stdout, []*loadtest.Result{res})
	if *jsonPath != "" {
		rep := &loadtest.Report{Tool: "rawws", Command: os.Args, Scenario: "rawws", URLA: res.URL, Runs: []*loadtest.Result{res}}
		if err := rep.WriteJSON(*jsonPath); err != nil {
			fmt.Fprintln(os.Stderr, "rawws:", err)
			os.Exit(1)
		}
	}
}
