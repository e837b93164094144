package states

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseID feeds arbitrary JSON (as the dispatcher hands it over) to
// ParseID. Seeds beyond these live in testdata/fuzz/FuzzParseID.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{`"a.0.b"`, `""`, `null`, `true`, `false`, `1`, `{}`, `[]`, `"a."`, `"a*b"`, `"ü.Ä.1"`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseID(json.RawMessage(b))
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Msg == "" {
				t.Fatalf("ParseID(%q): error %T %v is not a ValidationError", b, err, err)
			}
			return
		}
		if id == "" || len(id) > MaxIDLen || strings.HasSuffix(id, ".") || !utf8.ValidString(id) {
			t.Fatalf("ParseID(%q) accepted %q", b, id)
		}
		if strings.ContainsAny(id, "*?[]\"'\\,;<>`\x00\n") {
			t.Fatalf("ParseID(%q) accepted forbidden characters in %q", b, id)
		}
		// The decoded and the raw form agree, and a string id round-trips.
		if again, err := ParseID(id); err != nil || again != id {
			t.Fatalf("ParseID(%q) = %q but ParseID(string) = %q, %v", b, id, again, err)
		}
		enc, _ := json.Marshal(id)
		if again, err := ParseID(json.RawMessage(enc)); err != nil || again != id {
			t.Fatalf("re-encoded %s: %q, %v", enc, again, err)
		}
		if ValidateID(id) != nil {
			t.Fatalf("ValidateID disagrees with ParseID on %q", id)
		}
	})
}
