package pattern

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// matches returns the subscribers Match reports for id, sorted, failing on duplicates.
func matches(t testing.TB, ix *Index[string], id string) []string {
	t.Helper()
	var got []string
	ix.Match(id, func(s string) { got = append(got, s) })
	slices.Sort(got)
	if len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Fatalf("Match(%q) reported a subscriber twice: %v", id, got)
	}
	return got
}

func TestIndexMatchDedupe(t *testing.T) {
	var ix Index[string]
	for _, p := range []string{"a.b", "a.*", "*", "*.b", "a.*.b", "*b", "a*b*", "*.*"} {
		if err := ix.Add(p, "A"); err != nil {
			t.Fatal(err)
		}
	}
	ix.Add("a.b", "B")
	ix.Add("x.*", "C")
	if got := matches(t, &ix, "a.b"); !slices.Equal(got, []string{"A", "B"}) {
		t.Errorf("Match(a.b) = %v, want [A B]", got)
	}
	if got := matches(t, &ix, "x.y"); !slices.Equal(got, []string{"A", "C"}) {
		t.Errorf("Match(x.y) = %v, want [A C]", got)
	}
	if got := ix.AppendMatches([]string{"pre"}, "a.b"); len(got) != 3 || got[0] != "pre" {
		t.Errorf("AppendMatches = %v", got)
	}
}

func TestIndexKinds(t *testing.T) {
	var ix Index[string]
	subs := map[string]string{
		"exact":   "hm-rpc.0.dev.STATE",
		"prefix":  "hm-rpc.0.*",
		"prefix2": "hm-rpc.*",
		"suffix":  "*.STATE",
		"general": "hm-rpc.*.STATE",
		"float":   "*.dev.*",
		"all":     "*",
		"other":   "zigbee.0.*",
		"brace":   "{x}.*",
	}
	for s, p := range subs {
		if err := ix.Add(p, s); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"all", "exact", "float", "general", "prefix", "prefix2", "suffix"}
	if got := matches(t, &ix, "hm-rpc.0.dev.STATE"); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := matches(t, &ix, "{x}.y"); !slices.Equal(got, []string{"all", "brace"}) {
		t.Errorf("got %v", got)
	}
	if got := matches(t, &ix, ""); !slices.Equal(got, []string{"all"}) {
		t.Errorf("got %v", got)
	}
}

func TestIndexAddInvalid(t *testing.T) {
	var ix Index[int]
	if err := ix.Add("", 1); !errors.Is(err, ErrEmptyPattern) {
		t.Errorf("Add(\"\") = %v", err)
	}
	var ie *InvalidError
	if err := ix.Add("a.?", 1); !errors.As(err, &ie) {
		t.Errorf("Add(a.?) = %v", err)
	}
	if ix.Len() != 0 || ix.Subscribers() != 0 {
		t.Errorf("Len = %d, Subscribers = %d after invalid adds", ix.Len(), ix.Subscribers())
	}
}

func TestIndexRemoveSemantics(t *testing.T) {
	var ix Index[string]
	ix.Add("a.*", "A")
	ix.Add("a.*", "A") // no reference counting per subscriber
	if ix.Len() != 1 {
		t.Fatalf("Len = %d after adding the same pair twice", ix.Len())
	}
	if ix.Remove("a.b", "A") {
		t.Error("Remove(a.b) narrowed a.*")
	}
	if ix.Remove("a.*", "B") {
		t.Error("Remove of another subscriber's pattern succeeded")
	}
	if got := matches(t, &ix, "a.b"); !slices.Equal(got, []string{"A"}) {
		t.Errorf("after Remove(a.b): %v", got)
	}
	if !ix.Remove("a.*", "A") {
		t.Error("Remove(a.*) = false")
	}
	if got := matches(t, &ix, "a.b"); len(got) != 0 {
		t.Errorf("after Remove(a.*): %v", got)
	}
	if ix.Remove("a.*", "A") {
		t.Error("second Remove(a.*) = true")
	}
	if ix.Len() != 0 || ix.Subscribers() != 0 || len(ix.tree.children) != 0 {
		t.Errorf("index not empty: Len %d, Subscribers %d, tree %d", ix.Len(), ix.Subscribers(), len(ix.tree.children))
	}
}

func TestIndexRemoveAll(t *testing.T) {
	var ix Index[string]
	for _, p := range []string{"a.b", "a.*", "*.b", "a.*.b", "*x*", "*"} {
		ix.Add(p, "A")
	}
	ix.Add("a.*", "B")
	if got := ix.Patterns("A"); !slices.Equal(got, []string{"*", "*.b", "*x*", "a.*", "a.*.b", "a.b"}) {
		t.Errorf("Patterns(A) = %v", got)
	}
	ix.RemoveAll("A")
	ix.RemoveAll("nobody")
	if got := ix.Patterns("A"); got != nil {
		t.Errorf("Patterns(A) after RemoveAll = %v", got)
	}
	if ix.Len() != 1 {
		t.Errorf("Len = %d, want 1", ix.Len())
	}
	// C reuses A's slot; A must not come back.
	ix.Add("q", "C")
	for id, want := range map[string][]string{"a.b": {"B"}, "q": {"C"}, "zx": nil} {
		if got := matches(t, &ix, id); !slices.Equal(got, want) {
			t.Errorf("Match(%q) = %v, want %v", id, got, want)
		}
	}
	ix.RemoveAll("B")
	ix.RemoveAll("C")
	if len(ix.tree.children) != 0 || len(ix.tree.general) != 0 || len(ix.exact) != 0 ||
		len(ix.suffix) != 0 || len(ix.suffixLens) != 0 || len(ix.general) != 0 {
		t.Error("structures not empty after removing everything")
	}
}

// TestIndexAgainstScan applies random adds and removes and compares every
// Match with a scan of all subscriptions, to exercise tree splits and merges.
func TestIndexAgainstScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", ".", "ab", "a.", "*"}
	randStr := func(maxParts int) string {
		s := ""
		for range rng.IntN(maxParts) + 1 {
			s += alphabet[rng.IntN(len(alphabet))]
		}
		return s
	}
	var ix Index[int]
	type pair struct {
		p string
		s int
	}
	held := map[pair]*Matcher{}
	for step := range 5000 {
		pr := pair{randStr(5), rng.IntN(6)}
		if rng.IntN(3) == 0 {
			_, had := held[pr]
			if got := ix.Remove(pr.p, pr.s); got != had {
				t.Fatalf("step %d: Remove(%q, %d) = %v, want %v", step, pr.p, pr.s, got, had)
			}
			delete(held, pr)
		} else if rng.IntN(40) == 0 {
			ix.RemoveAll(pr.s)
			for k := range held {
				if k.s == pr.s {
					delete(held, k)
				}
			}
		} else {
			if err := ix.Add(pr.p, pr.s); err != nil {
				t.Fatal(err)
			}
			held[pr] = MustCompile(pr.p)
		}
		if ix.Len() != len(held) {
			t.Fatalf("step %d: Len = %d, want %d", step, ix.Len(), len(held))
		}
		id := randStr(6)
		var want []int
		for k, m := range held {
			if m.Match(id) && !slices.Contains(want, k.s) {
				want = append(want, k.s)
			}
		}
		slices.Sort(want)
		got := ix.AppendMatches(nil, id)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("step %d: Match(%q) = %v, want %v", step, id, got, want)
		}
	}
}

func TestIndexMatchCallbackMayModify(t *testing.T) {
	var ix Index[string]
	ix.Add("a.*", "A")
	ix.Match("a.b", func(s string) { ix.RemoveAll(s) })
	if ix.Len() != 0 {
		t.Errorf("Len = %d", ix.Len())
	}
}

func TestIndexConcurrent(t *testing.T) {
	var ix Index[int]
	ix.Add("dev.*", -1)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				p := fmt.Sprintf("dev.%d.*", i%50)
				ix.Add(p, w)
				ix.Add(fmt.Sprintf("*.%d", i%7), w)
				ix.Remove(p, w)
				if i%100 == 99 {
					ix.RemoveAll(w)
				}
			}
		})
		wg.Go(func() {
			for i := range 2000 {
				seen := map[int]bool{}
				ix.Match(fmt.Sprintf("dev.%d.%d", i%50, i%7), func(s int) {
					if seen[s] {
						t.Errorf("subscriber %d reported twice", s)
					}
					seen[s] = true
				})
				if !seen[-1] {
					t.Error("permanent subscriber missing")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestScratchEpochWrap(t *testing.T) {
	sc := &scratch[int]{epoch: ^uint32(0), mark: []uint32{1, 1}}
	sc.begin(2, []int{10, 20}, nil)
	sc.addSlots([]int32{0, 1, 0})
	if sc.epoch != 1 || !slices.Equal(sc.out, []int{10, 20}) {
		t.Errorf("after wrap: epoch %d out %v", sc.epoch, sc.out)
	}
}
