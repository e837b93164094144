package pattern

import "strings"

// Kind classifies a pattern by the cheapest way to match it.
type Kind uint8

// Pattern kinds, from cheapest to most general.
const (
	Exact   Kind = iota // no `*`: the pattern is an id
	All                 // only `*`: matches every id
	Prefix              // one trailing `*`: "a.b.*"
	Suffix              // one leading `*`: "*.STATE"
	General             // anything else: "a.*.b", "*.x.*", "a*b*c"
)

// String returns the kind's name for logs and test output.
func (k Kind) String() string {
	switch k {
	case Exact:
		return "exact"
	case All:
		return "all"
	case Prefix:
		return "prefix"
	case Suffix:
		return "suffix"
	default:
		return "general"
	}
}

// Matcher is a compiled pattern. It is immutable and safe for concurrent use.
type Matcher struct {
	pattern string
	kind    Kind
	// lit is the id (Exact), the text before the star (Prefix) or after it (Suffix).
	lit string
	// segs are the literal runs between stars (General). segs[0] must start the
	// id and segs[len-1] must end it; either may be "" for a leading or
	// trailing star. Runs of stars are collapsed, so inner segments are non-empty.
	segs []string
}

// Compile validates p and returns its matcher.
func Compile(p string) (*Matcher, error) {
	if err := ValidatePattern(p); err != nil {
		return nil, err
	}
	m := &Matcher{pattern: p}
	segs := strings.Split(collapseStars(p), "*")
	switch {
	case len(segs) == 1:
		m.kind, m.lit = Exact, p
	case len(segs) == 2 && segs[0] == "" && segs[1] == "":
		m.kind = All
	case len(segs) == 2 && segs[1] == "":
		m.kind, m.lit = Prefix, segs[0]
	case len(segs) == 2 && segs[0] == "":
		m.kind, m.lit = Suffix, segs[1]
	default:
		m.kind, m.segs = General, segs
	}
	return m, nil
}

// MustCompile is Compile for patterns known to be valid; it panics otherwise.
func MustCompile(p string) *Matcher {
	m, err := Compile(p)
	if err != nil {
		panic(err)
	}
	return m
}

// Pattern returns the pattern string as given to Compile.
func (m *Matcher) Pattern() string { return m.pattern }

// Kind returns the pattern's kind.
func (m *Matcher) Kind() Kind { return m.kind }

// Literal returns the literal part of an Exact, Prefix or Suffix pattern and
// the text before the first star of a General one ("" for `*` or a leading star).
func (m *Matcher) Literal() string {
	if m.kind == General {
		return m.segs[0]
	}
	return m.lit
}

// Match reports whether id matches the pattern. `*` matches any bytes,
// including line terminators: unlike the JS regex `.*` upstream, but such
// characters are not valid in ids anyway.
func (m *Matcher) Match(id string) bool {
	switch m.kind {
	case Exact:
		return id == m.lit
	case All:
		return true
	case Prefix:
		return strings.HasPrefix(id, m.lit)
	case Suffix:
		return strings.HasSuffix(id, m.lit)
	}
	return matchSegments(m.segs, id)
}

// matchSegments matches a pattern split at its stars. Taking the leftmost
// occurrence of each inner segment is optimal: any later choice leaves less
// room for the segments after it, so no backtracking is needed.
func matchSegments(segs []string, id string) bool {
	first, last := segs[0], segs[len(segs)-1]
	if len(id) < len(first)+len(last) || !strings.HasPrefix(id, first) || !strings.HasSuffix(id, last) {
		return false
	}
	// The middle must not overlap the anchored head and tail.
	rest := id[len(first) : len(id)-len(last)]
	for _, s := range segs[1 : len(segs)-1] {
		i := strings.Index(rest, s)
		if i < 0 {
			return false
		}
		rest = rest[i+len(s):]
	}
	return true
}

// collapseStars replaces runs of `*` by one; "a**b" matches what "a*b" does.
func collapseStars(p string) string {
	if !strings.Contains(p, "**") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '*' && i > 0 && p[i-1] == '*' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// RangeEnd is the "end of prefix" sentinel of key ranges (datamodel.md 6.2).
const RangeEnd = "\u9999"

// Range returns the inclusive key range [start, end] that getStates and
// getForeignObjects scan for pattern p (datamodel.md 6.2): start is p with
// every `*` removed, end is p with every `*` replaced by RangeEnd. The range is
// only a pre-filter when a star is not at the end: "a.*.b" still needs Match.
func Range(p string) (start, end string) {
	return strings.ReplaceAll(p, "*", ""), strings.ReplaceAll(p, "*", RangeEnd)
}
