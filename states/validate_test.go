package states

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func TestValidateID(t *testing.T) {
	tests := []struct {
		name string
		id   any
		want string // "" = valid
	}{
		{"plain", "hm-rpc.0.ABC1234:1.STATE", ""},
		{"userdata", "0_userdata.0.test", ""},
		{"slash and space", "vis.0/main view", ""},
		{"ascii punctuation", "a.!#$%&()+=@^{}|~_-/: b", ""},
		{"unicode letters", "0_userdata.0.Ärger_straße_αβγ", ""},
		{"unicode digits", "a.٣", ""},
		{"max length", strings.Repeat("a", MaxIDLen), ""},
		{"nil", nil, "The id is empty! Please provide a valid id."},
		{"empty", "", "The id is empty! Please provide a valid id."},
		{"false", false, "The id is empty! Please provide a valid id."},
		{"zero", 0.0, `The id "0" has an invalid type! Expected "string", received "number".`},
		{"float", 1.5, `The id "1.5" has an invalid type! Expected "string", received "number".`},
		{"big float", 1e21, `The id "1e+21" has an invalid type! Expected "string", received "number".`},
		{"json number", json.Number("12"), `The id "12" has an invalid type! Expected "string", received "number".`},
		{"true", true, `The id "true" has an invalid type! Expected "string", received "boolean".`},
		{"object", map[string]any{"a": 1.0}, `The id "{"a":1}" has an invalid type! Expected "string", received "object".`},
		{"array", []any{}, `The id "[]" has an invalid type! Expected "string", received "object".`},
		{"raw string", json.RawMessage(`"a.b"`), ""},
		{"raw number", json.RawMessage(`7`), `The id "7" has an invalid type! Expected "string", received "number".`},
		{"trailing dot", "a.b.", `The id "a.b." is invalid. Ids are not allowed to end in "."`},
		{"dot", ".", `The id "." is invalid. Ids are not allowed to end in "."`},
		{"star", "a.*", `The id "a.*" contains forbidden characters`},
		{"question", "a?b", `The id "a?b" contains forbidden characters`},
		{"brackets", "a[b]", `The id "a[b]" contains forbidden characters`},
		{"comma", "a,b", `The id "a,b" contains forbidden characters`},
		{"semicolon", "a;b", `The id "a;b" contains forbidden characters`},
		{"quote", `a"b`, `The id "a"b" contains forbidden characters`},
		{"apostrophe", "a'b", `The id "a'b" contains forbidden characters`},
		{"backtick", "a`b", "The id \"a`b\" contains forbidden characters"},
		{"angle", "a<b>", `The id "a<b>" contains forbidden characters`},
		{"backslash", `a\b`, `The id "a\b" contains forbidden characters`},
		{"tab", "a\tb", "The id \"a\tb\" contains forbidden characters"},
		{"newline", "a\nb", "The id \"a\nb\" contains forbidden characters"},
		{"cjk", "a.中文", `The id "a.中文" contains forbidden characters`},
		{"emoji", "a.😀", `The id "a.😀" contains forbidden characters`},
		{"invalid utf8", "a\xffb", "The id \"a\xffb\" contains forbidden characters"},
		{"too long", strings.Repeat("a", MaxIDLen+1), "The id is too long! Ids are limited to 1024 bytes."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateID(tt.id)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidateID(%#v) = %v, want nil", tt.id, err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("ValidateID(%#v) = %v, want %q", tt.id, err, tt.want)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *ValidationError", err)
			}
		})
	}
}

func TestParseWrite(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := []struct {
		name string
		arg  any
		want Write
		err  string
	}{
		{"number", 5.0, Write{Val: 5.0, HasVal: true}, ""},
		{"int normalised", 5, Write{Val: 5.0, HasVal: true}, ""},
		{"string", "on", Write{Val: "on", HasVal: true}, ""},
		{"false", false, Write{Val: false, HasVal: true}, ""},
		{"null", nil, Write{Val: nil, HasVal: true}, ""},
		{"raw null", raw(`null`), Write{Val: nil, HasVal: true}, ""},
		{"raw number", raw(` 12.5 `), Write{Val: 12.5, HasVal: true}, ""},
		{"val only", map[string]any{"val": 1.0}, Write{Val: 1.0, HasVal: true}, ""},
		{"val null", map[string]any{"val": nil}, Write{Val: nil, HasVal: true}, ""},
		{"val object", map[string]any{"val": map[string]any{"a": 1.0}}, Write{Val: map[string]any{"a": 1.0}, HasVal: true}, ""},
		{"ack only", map[string]any{"ack": true}, Write{Ack: ptr(true)}, ""},
		{"all fields", raw(`{"val":"x","ack":false,"ts":1700000000000,"q":17,"from":"system.adapter.a.0","c":"hi","expire":1.5,"lc":1600000000000,"user":"system.user.bob"}`),
			Write{Val: "x", HasVal: true, Ack: ptr(false), TS: ptr[int64](1700000000000), Q: ptr(17), From: "system.adapter.a.0",
				C: ptr("hi"), Expire: ptr[int64](1), ExpireMS: ptr[int64](1500), LC: ptr[int64](1600000000000), User: "system.user.bob"}, ""},
		{"fractional ts truncated", map[string]any{"ts": 1700000000000.9}, Write{TS: ptr[int64](1700000000000)}, ""},
		{"duplicate key keeps last", raw(`{"val":1,"val":2}`), Write{Val: 2.0, HasVal: true}, ""},

		{"trailing data", raw(`{"val":1} x`), Write{}, "The state is not valid JSON: trailing data"},
		{"empty object", map[string]any{}, Write{}, "The state contains no properties! At least one property is expected!"},
		{"empty raw object", raw(`{ }`), Write{}, "The state contains no properties! At least one property is expected!"},
		{"empty array", []any{}, Write{}, "The state contains no properties! At least one property is expected!"},
		{"array", []any{"a", "b"}, Write{}, "The state contains the forbidden properties 0, 1!"},
		{"forbidden raw order", raw(`{"val":1,"foo":1,"bar":2}`), Write{}, "The state contains the forbidden properties foo, bar!"},
		{"forbidden raw index keys first", raw(`{"b":1,"10":1,"2":1,"a":1}`), Write{}, "The state contains the forbidden properties 2, 10, b, a!"},
		{"forbidden map sorted", map[string]any{"foo": 1.0, "bar": 2.0, "val": 1.0}, Write{}, "The state contains the forbidden properties bar, foo!"},
		{"forbidden before type", raw(`{"ack":"x","zzz":1}`), Write{}, "The state contains the forbidden properties zzz!"},
		{"forbidden case sensitive", raw(`{"Val":1}`), Write{}, "The state contains the forbidden properties Val!"},
		{"ack string", raw(`{"val":1,"ack":"true"}`), Write{}, `The state property "ack" has the wrong type "string" (should be "boolean")!`},
		{"ack null", raw(`{"val":1,"ack":null}`), Write{}, `The state property "ack" has the wrong type "object" (should be "boolean")!`},
		{"ack number", map[string]any{"ack": 1.0}, Write{}, `The state property "ack" has the wrong type "number" (should be "boolean")!`},
		{"ts string", raw(`{"ts":"now"}`), Write{}, `The state property "ts" has the wrong type "string" (should be "number")!`},
		{"q bool", raw(`{"q":true}`), Write{}, `The state property "q" has the wrong type "boolean" (should be "number")!`},
		{"from number", raw(`{"from":1}`), Write{}, `The state property "from" has the wrong type "number" (should be "string")!`},
		{"c array", raw(`{"c":[]}`), Write{}, `The state property "c" has the wrong type "object" (should be "string")!`},
		{"expire string", raw(`{"expire":"10"}`), Write{}, `The state property "expire" has the wrong type "string" (should be "number")!`},
		{"lc null", raw(`{"lc":null}`), Write{}, `The state property "lc" has the wrong type "object" (should be "number")!`},
		{"user object", raw(`{"user":{}}`), Write{}, `The state property "user" has the wrong type "object" (should be "string")!`},
		// js-controller checks ack, ts, q, from, c, expire, lc, user in that order.
		{"type check order", raw(`{"user":1,"lc":"x","ack":"x"}`), Write{}, `The state property "ack" has the wrong type "string" (should be "boolean")!`},
		{"type check order 2", raw(`{"user":1,"c":2}`), Write{}, `The state property "c" has the wrong type "number" (should be "string")!`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWrite(tt.arg)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("ParseWrite(%v) error = %v, want %q", tt.arg, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseWrite(%v): %v", tt.arg, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseWrite(%v)\n got %s\nwant %s", tt.arg, dumpWrite(got), dumpWrite(tt.want))
			}
		})
	}
}

func dumpWrite(w Write) string {
	b, _ := json.Marshal(struct {
		Write
		Ack, Q                      any
		TS, LC, Expire, ExpireMS, C any
	}{w, w.Ack, w.Q, w.TS, w.LC, w.Expire, w.ExpireMS, w.C})
	return string(b)
}

func FuzzParseWrite(f *testing.F) {
	for _, s := range []string{`{"val":1}`, `{}`, `[1]`, `"x"`, `null`, `{"ack":null,"x":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := ParseWrite(json.RawMessage(b))
		if err != nil {
			return
		}
		st := NewState(nil, w, 1700000000000)
		if !json.Valid(AppendJSON(nil, st)) {
			t.Fatalf("invalid JSON for %q", b)
		}
		disk := appendDisk(nil, st)
		want, err := decodeDisk(disk)
		if err != nil {
			t.Fatalf("%s: %v", disk, err)
		}
		var d decoder
		if got, err := d.decode(disk); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: fast decode %+v, encoding/json %+v (%v)", disk, got, want, err)
		}
	})
}
