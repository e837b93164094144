package loadtest

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Scenario runs one measurement against one target.
type Scenario func(ctx context.Context, t Target) (*Result, error)

// RunRounds runs the scenario rounds times; with b set it alternates A, B,
// A, B… so both endpoints see the same machine conditions. Every run gets
// its own deadline of budget. Progress goes to log.
func RunRounds(ctx context.Context, s Scenario, a Target, b *Target, rounds int, budget time.Duration, log io.Writer) ([]*Result, error) {
	if rounds < 1 {
		rounds = 1
	}
	targets := []Target{a}
	if b != nil {
		targets = append(targets, *b)
	}
	var runs []*Result
	for round := 1; round <= rounds; round++ {
		for _, t := range targets {
			if len(runs) > 0 {
				time.Sleep(time.Second) // let the previous run's connections go
			}
			fmt.Fprintf(log, "round %d: %s %s (EIO%d)…\n", round, t.Label, t.Endpoint(), t.EIO)
			rctx, cancel := context.WithTimeout(ctx, budget)
			r, err := s(rctx, t)
			cancel()
			if err != nil {
				return runs, fmt.Errorf("%s round %d (%s): %w", t.Label, round, t.Endpoint(), err)
			}
			r.Label, r.Round = t.Label, round
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// Split returns the runs of label A and of label B.
func Split(runs []*Result) (a, b []*Result) {
	for _, r := range runs {
		if r.Label == "B" {
			b = append(b, r)
		} else {
			a = append(a, r)
		}
	}
	return a, b
}
