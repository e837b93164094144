package objects

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

func TestValidateID(t *testing.T) {
	long := strings.Repeat("a", 1025)
	cases := []struct{ id, err string }{
		{"", "The id is empty! Please provide a valid id."},
		{"a*b", "Invalid ID: a*b"},
		{"a?b", "Invalid ID: a?b"},
		{"a[b", "Invalid ID: a[b"},
		{"a]b", "Invalid ID: a]b"},
		{"a$%$b", "Invalid ID: a$%$b"},
		{"hm-rpc.0.", `The id "hm-rpc.0." is invalid. Ids are not allowed to end in "."`},
		{"a,b", "Invalid ID: a,b"},
		{"a;b", "Invalid ID: a;b"},
		{"a'b", "Invalid ID: a'b"},
		{`a"b`, `Invalid ID: a"b`},
		{"a`b", "Invalid ID: a`b"},
		{"a<b", "Invalid ID: a<b"},
		{"a>b", "Invalid ID: a>b"},
		{`a\b`, `Invalid ID: a\b`},
		{"a\tb", "Invalid ID: a\tb"},
		{"a\nb", "Invalid ID: a\nb"},
		{"room.中文", "Invalid ID: room.中文"},
		{"x.\U0001F600", "Invalid ID: x.\U0001F600"},
		{"bad\xffutf8", "Invalid ID: bad\xffutf8"},
		{long, "Invalid ID: id longer than 1024 characters"},
		{"hm-rpc.0.dev.ch.STATE", ""},
		{"a b/c:d!#$%&()+=@^{}|~_-", ""},
		{"küche.Ärger.ß", ""},
		{"x.٣", ""}, // Arabic-Indic digit: Nd
		{"_design/system", ""},
		{"ｆｕｌｌ", ""}, // full-width letters are Ll
		{strings.Repeat("a", 1024), ""},
	}
	for _, c := range cases {
		err := ValidateID(c.id)
		if c.err == "" {
			if err != nil {
				t.Errorf("ValidateID(%q) = %v, want ok", c.id, err)
			}
			continue
		}
		if err == nil || err.Error() != c.err {
			t.Errorf("ValidateID(%q) = %v, want %q", c.id, err, c.err)
		}
	}
}

func TestMaxIDLengthConfigurable(t *testing.T) {
	old := MaxIDLength
	defer func() { MaxIDLength = old }()
	MaxIDLength = 5
	errIs(t, ValidateID("abcdef"), "Invalid ID: id longer than 5 characters")
	if err := ValidateID("abcde"); err != nil {
		t.Fatal(err)
	}
}

func utf16Cmp(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

func TestCompareUTF16(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "b", -1}, {"b", "a", 1}, {"a", "ab", -1}, {"ab", "a", 1},
		{"a.b", "a\u9999", -1},
		{"a.ｆ", "a.\u9999", 1},       // full-width sorts after the sentinel
		{"\U0001F600", "\uFF46", -1}, // astral (surrogates) before U+FF46
		{"\uFF46", "\U0001F600", 1},
		{"\u00e9", "\u9999", -1},
		{"x\U00010000", "x\uE000", -1},
		{"x\U00010000", "x\uD7FF", 1},
	}
	for _, c := range cases {
		if got := CompareUTF16(c.a, c.b); got != c.want {
			t.Errorf("CompareUTF16(%q,%q)=%d want %d", c.a, c.b, got, c.want)
		}
	}
	alphabet := []rune{'a', 'b', '.', 'é', '\u9999', '\uE000', '\uFF46', '\U0001F600', '\U00010000', '\u0800'}
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() string {
		n := r.IntN(5)
		var sb strings.Builder
		for range n {
			sb.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return sb.String()
	}
	for range 20000 {
		a, b := gen(), gen()
		if got, want := CompareUTF16(a, b), utf16Cmp(a, b); got != want {
			t.Fatalf("CompareUTF16(%q,%q)=%d want %d", a, b, got, want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		p, s string
		ok   bool
	}{
		{"a.*.b", "a.x.b", true}, {"a.*.b", "a.x.y.b", true}, {"a.*.b", "a.x.c", false},
		{"*.STATE", "x.STATE", true}, {"*.STATE", "x.STATEX", false}, {"a*", "abc", true},
		{"abc", "abc", true}, {"a*c*e", "abcde", true}, {"a*a", "a", false},
	}
	for _, c := range cases {
		if globMatch(c.p, c.s) != c.ok {
			t.Errorf("globMatch(%q,%q) != %v", c.p, c.s, c.ok)
		}
	}
}

func FuzzCompareUTF16(f *testing.F) {
	f.Add("a", "b")
	f.Add("\uFF46", "\U0001F600")
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8Valid(a) || !utf8Valid(b) {
			return
		}
		if got, want := CompareUTF16(a, b), utf16Cmp(a, b); got != want {
			t.Fatalf("CompareUTF16(%q,%q)=%d want %d", a, b, got, want)
		}
	})
}

func utf8Valid(s string) bool {
	for _, r := range s {
		if r == 0xFFFD || r >= 0xD800 && r <= 0xDFFF {
			return false
		}
	}
	return true
}
