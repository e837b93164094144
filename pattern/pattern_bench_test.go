package pattern

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchID returns an id of a plausible installation: 20 adapters × 50 devices
// × 5 channels × 10 states = 50,000 ids.
func benchID(rng *rand.Rand) string {
	return fmt.Sprintf("adapter%d.0.dev%d.ch%d.state%d", rng.IntN(20), rng.IntN(50), rng.IntN(5), rng.IntN(10))
}

// benchPatterns returns n patterns: 70% exact ids, 20% prefixes, 8% general
// patterns with a literal head, 1% suffixes and 1% general patterns with a
// leading star (the only ones tried for every id), or more suffixes instead
// if floating is false.
func benchPatterns(rng *rand.Rand, n int, floating bool) []string {
	ps := make([]string, n)
	for i := range ps {
		switch k := rng.IntN(100); {
		case k < 70:
			ps[i] = benchID(rng)
		case k < 90:
			ps[i] = fmt.Sprintf("adapter%d.0.dev%d.*", rng.IntN(20), rng.IntN(50))
		case k < 98:
			ps[i] = fmt.Sprintf("adapter%d.0.*.state%d", rng.IntN(20), rng.IntN(10))
		case k < 99 || !floating:
			ps[i] = fmt.Sprintf("*.ch%d.state%d", rng.IntN(5), rng.IntN(10))
		default:
			ps[i] = fmt.Sprintf("*.dev%d.*", rng.IntN(50))
		}
	}
	return ps
}

// BenchmarkIndexMatch measures one state change against 10,000 patterns held
// by 200 subscribers; "scan" is the naive loop over every pattern for comparison.
func BenchmarkIndexMatch(b *testing.B) {
	b.Run("mixed", func(b *testing.B) { benchIndexMatch(b, true) })
	b.Run("no-leading-star", func(b *testing.B) { benchIndexMatch(b, false) })
}

func benchIndexMatch(b *testing.B, floating bool) {
	const nPatterns, nSubs = 10000, 200
	rng := rand.New(rand.NewPCG(7, 7))
	ps := benchPatterns(rng, nPatterns, floating)
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = benchID(rng)
	}

	var ix Index[int]
	type sub struct {
		m *Matcher
		s int
	}
	all := make([]sub, nPatterns)
	for i, p := range ps {
		if err := ix.Add(p, i%nSubs); err != nil {
			b.Fatal(err)
		}
		all[i] = sub{MustCompile(p), i % nSubs}
	}

	b.Run("index", func(b *testing.B) {
		hits := 0
		i := 0
		for b.Loop() {
			ix.Match(ids[i%len(ids)], func(int) { hits++ })
			i++
		}
		b.ReportMetric(float64(hits)/float64(i), "subs/op")
	})
	b.Run("index-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				ix.Match(ids[i%len(ids)], func(int) {})
				i++
			}
		})
	})
	b.Run("scan", func(b *testing.B) {
		seen := make([]bool, nSubs)
		i := 0
		for b.Loop() {
			id := ids[i%len(ids)]
			clear(seen)
			for _, x := range all {
				if !seen[x.s] && x.m.Match(id) {
					seen[x.s] = true
				}
			}
			i++
		}
	})
}

func BenchmarkCompileMatch(b *testing.B) {
	const id = "hm-rpc.0.OEQ0123456.1.STATE"
	for _, p := range []string{
		"hm-rpc.0.OEQ0123456.1.STATE", // exact
		"hm-rpc.0.*",                  // prefix
		"*.STATE",                     // suffix
		"hm-rpc.*.1.STATE",            // general
		"*.OEQ*.1.*",                  // general, leading star
	} {
		m := MustCompile(p)
		b.Run("compile/"+m.Kind().String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(p); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("match/"+m.Kind().String()+"/"+p, func(b *testing.B) {
			for b.Loop() {
				if !m.Match(id) {
					b.Fatal("no match")
				}
			}
		})
	}
}
