package objects

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/states"
)

// FuzzValidateID checks the id whitelist against its documented rules and
// against the state store's, which must accept every valid object id.
func FuzzValidateID(f *testing.F) {
	for _, s := range []string{"a.0.b", "", ".", "a.", "a*b", "a$%$b", "ü.Ä.1", "\xff", "a\x00b", "0_userdata.0.x y", strings.Repeat("a", 1025)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := ValidateID(id)
		basic := checkIDBasic(id)
		if basic != nil && err == nil {
			t.Fatalf("ValidateID(%q) accepted what checkIDBasic refuses: %v", id, basic)
		}
		if err != nil {
			var ie *IDError
			if !errors.Is(err, ErrEmptyID) && (!errors.As(err, &ie) || ie.Msg == "") {
				t.Fatalf("ValidateID(%q): error %T %v", id, err, err)
			}
			return
		}
		if id == "" || len(id) > MaxIDLength || strings.HasSuffix(id, ".") || !utf8.ValidString(id) ||
			strings.ContainsAny(id, "*?[]\"'\\,;<>`\x00\n") || strings.Contains(id, "$%$") {
			t.Fatalf("ValidateID accepted %q", id)
		}
		if err := states.ValidateID(id); err != nil {
			t.Fatalf("object id %q is not a valid state id: %v", id, err)
		}
	})
}

// fuzzStore opens one store per fuzz process, on tmpfs when there is one so
// that every commit's fsync is cheap.
func fuzzStore(f *testing.F) *BoltStore {
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "brokerd-fuzz-objects-")
	if err != nil {
		f.Fatal(err)
	}
	db, err := database.Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	s, err := Open(db)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		db.Close()
		os.RemoveAll(dir)
	})
	return s
}

// FuzzSetJSON writes arbitrary documents through the setObject path:
// validation must refuse with a protocol error or store an object that reads
// back as written and validates again. Seeds beyond these live in
// testdata/fuzz/FuzzSetJSON.
func FuzzSetJSON(f *testing.F) {
	seeds := [][2]string{
		{"a.0.s", `{"type":"state","common":{"name":"x","type":"number"},"native":{}}`},
		{"a.0.s", `{"type":"state","common":{"type":"nope"}}`},
		{"enum.rooms.x", `{"type":"enum","common":{"members":["a.0.s",1]}}`},
		{"a.0.c", `{"type":"channel","acl":{"owner":"system.user.admin","object":1638}}`},
		{"a.0.c", `{"type":"channel","acl":{"owner":1}}`},
		{"alias.0.x", `{"type":"state","common":{"alias":{"id":"a.0.s"}}}`},
		{"system.adapter.a.0", `{"type":"instance","common":{"nondeletable":true},"nonEdit":{"password":"p"}}`},
		{"a.0.n", `null`}, {"a.0.n", `[]`}, {"a.0.n", `{}`}, {"a.0.n", `{"type":""}`}, {"a*", `{"type":"state"}`},
	}
	for _, s := range seeds {
		f.Add(s[0], []byte(s[1]))
	}
	s := fuzzStore(f)
	f.Fuzz(func(t *testing.T, id string, raw []byte) {
		before, _, hadBefore := s.GetRaw(id)
		got, err := s.SetJSON(id, json.RawMessage(raw), WriteOptions{User: "system.user.admin"})
		if err != nil {
			var ie *IDError
			var ve *ValidationError
			if !errors.As(err, &ie) && !errors.As(err, &ve) && !isSentinel(err) {
				t.Fatalf("SetJSON(%q, %q): unexpected error %T %v", id, raw, err, err)
			}
			after, _, hasAfter := s.GetRaw(id)
			if hasAfter != hadBefore || string(after) != string(before) {
				t.Fatalf("failed SetJSON(%q, %q) changed the stored object: %s → %s", id, raw, before, after)
			}
			return
		}
		if ValidateID(id) != nil {
			t.Fatalf("SetJSON stored invalid id %q", id)
		}
		if err := ValidateObject(got); err != nil {
			t.Fatalf("stored object %v does not validate: %v", got, err)
		}
		if got["_id"] != id {
			t.Fatalf("_id %v, want %q", got["_id"], id)
		}
		read, err := s.Get(id)
		if err != nil || read == nil {
			t.Fatalf("Get(%q) after SetJSON: %v, %v", id, read, err)
		}
		if !reflect.DeepEqual(normJSON(t, read), normJSON(t, got)) {
			t.Fatalf("read back differs:\n got %v\nwant %v", read, got)
		}
	})
}

// isSentinel reports whether err is one of the protocol's fixed error strings.
func isSentinel(err error) bool {
	for _, e := range []error{ErrPermission, ErrEmptyID, ErrNullObject, ErrNoObject, ErrTypeMissing,
		ErrInvalidAliasID, ErrAliasOnAlias, ErrNonEdit} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// normJSON is v after a JSON round trip (numbers as float64).
func normJSON(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzValidateObject decodes arbitrary JSON as an object document: the
// validator answers every shape with nil or a ValidationError, never panics.
func FuzzValidateObject(f *testing.F) {
	for _, s := range []string{`{"type":"state"}`, `{"type":"enum","common":{"members":[1]}}`, `{"type":1}`,
		`{"type":"state","common":[]}`, `{"type":"folder","acl":{"object":"x"}}`, `{"type":"host","acl":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var o Object
		if json.Unmarshal(b, &o) != nil {
			return
		}
		err := ValidateObject(o)
		if err == nil {
			if typ, _ := o["type"].(string); !validType[typ] {
				t.Fatalf("accepted type %v", o["type"])
			}
			return
		}
		var ve *ValidationError
		if !errors.As(err, &ve) && !errors.Is(err, ErrNullObject) && !errors.Is(err, ErrTypeMissing) {
			t.Fatalf("ValidateObject(%s): %T %v", b, err, err)
		}
	})
}
