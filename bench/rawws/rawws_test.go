package main

import (
	"context"
	"testing"
	"time"
)

func TestRunDeliversEverything(t *testing.T) {
	res, err := Run(context.Background(), Config{Subs: 3, Duration: 300 * time.Millisecond, Rate: 2000})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := res.Metric("expected deliveries")
	got, _ := res.Metric("received")
	if want == 0 || got != want {
		t.Fatalf("received %v of %v", got, want)
	}
	if l, ok := res.Latency["write→receive"]; !ok || l.Count != uint64(got) {
		t.Fatalf("latency %+v", l)
	}
}

func TestMessageRoundTrip(t *testing.T) {
	b := appendMessage(nil, 42, 1763771234123456789)
	seq, ns, ok := decode(b)
	if !ok || seq != 42 || ns != 1763771234123456789 {
		t.Fatalf("%s decoded to %d %d %v", b, seq, ns, ok)
	}
	if _, _, ok := decode([]byte(`["other",1]`)); ok {
		t.Fatal("foreign message accepted")
	}
}
