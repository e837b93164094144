package states

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestNewState(t *testing.T) {
	const now = int64(1700000000000)
	prev := &State{Val: 1.0, Ack: true, TS: 1600000000000, Q: 2, From: "system.adapter.x.0", User: "system.user.u",
		LC: 1500000000000, C: "old comment"}
	tests := []struct {
		name string
		prev *State
		w    Write
		want State
	}{
		{"defaults on a new state", nil, Write{Val: 5.0, HasVal: true},
			State{Val: 5.0, TS: now, LC: now}},
		{"val omitted on a new state is null", nil, Write{Ack: ptr(true)},
			State{Val: nil, Ack: true, TS: now, LC: now}},
		{"val omitted keeps previous val and lc", prev, Write{Ack: ptr(true)},
			State{Val: 1.0, Ack: true, TS: now, LC: prev.LC}},
		{"ack never inherited", prev, Write{Val: 1.0, HasVal: true},
			State{Val: 1.0, TS: now, LC: prev.LC}},
		{"q, from, user, c not inherited", prev, Write{Val: 1.0, HasVal: true},
			State{Val: 1.0, TS: now, LC: prev.LC}},
		{"from and user as given", nil, Write{Val: 1.0, HasVal: true, From: "system.adapter.socketio.0", User: "system.user.admin"},
			State{Val: 1.0, TS: now, LC: now, From: "system.adapter.socketio.0", User: "system.user.admin"}},
		{"changed val moves lc", prev, Write{Val: 2.0, HasVal: true},
			State{Val: 2.0, TS: now, LC: now}},
		{"changed type moves lc", prev, Write{Val: "1", HasVal: true},
			State{Val: "1", TS: now, LC: now}},
		{"null to null keeps lc", &State{Val: nil, LC: 5, TS: 5}, Write{Val: nil, HasVal: true},
			State{Val: nil, TS: now, LC: 5}},
		{"int equals float", prev, Write{Val: 1, HasVal: true},
			State{Val: 1.0, TS: now, LC: prev.LC}},
		{"deep equal object keeps lc", &State{Val: map[string]any{"a": []any{1.0, "x"}}, LC: 7},
			Write{Val: map[string]any{"a": []any{1.0, "x"}}, HasVal: true},
			State{Val: map[string]any{"a": []any{1.0, "x"}}, TS: now, LC: 7}},
		{"deep different object moves lc", &State{Val: map[string]any{"a": []any{1.0}}, LC: 7},
			Write{Val: map[string]any{"a": []any{2.0}}, HasVal: true},
			State{Val: map[string]any{"a": []any{2.0}}, TS: now, LC: now}},
		{"no previous lc takes ts", &State{Val: 1.0}, Write{Val: 1.0, HasVal: true},
			State{Val: 1.0, TS: now, LC: now}},
		{"given lc kept", prev, Write{Val: 9.0, HasVal: true, LC: ptr[int64](42)},
			State{Val: 9.0, TS: now, LC: 42}},
		{"given ts in ms", nil, Write{Val: 1.0, HasVal: true, TS: ptr[int64](1650000000000)},
			State{Val: 1.0, TS: 1650000000000, LC: 1650000000000}},
		{"ts in seconds", nil, Write{Val: 1.0, HasVal: true, TS: ptr[int64](1650000000)},
			State{Val: 1.0, TS: 1650000000000, LC: 1650000000000}},
		{"ts just below threshold", nil, Write{TS: ptr[int64](SecondsBefore - 1)},
			State{TS: (SecondsBefore - 1) * 1000, LC: (SecondsBefore - 1) * 1000}},
		{"ts at threshold", nil, Write{TS: ptr[int64](SecondsBefore)},
			State{TS: SecondsBefore, LC: SecondsBefore}},
		{"q given", nil, Write{Q: ptr(0x82)},
			State{Q: 0x82, TS: now, LC: now}},
		{"comment kept", nil, Write{C: ptr("hello")},
			State{C: "hello", TS: now, LC: now}},
		{"comment cut to 512", nil, Write{C: ptr(strings.Repeat("x", 600))},
			State{C: strings.Repeat("x", 512), TS: now, LC: now}},
		{"empty comment not stored", prev, Write{C: ptr("")},
			State{Val: 1.0, TS: now, LC: prev.LC}},
		{"expire seconds", nil, Write{Val: 1.0, HasVal: true, Expire: ptr[int64](10)},
			State{Val: 1.0, TS: now, LC: now, Expire: true, ExpireAt: now + 10000}},
		{"expire ms wins", nil, Write{Val: 1.0, HasVal: true, Expire: ptr[int64](0), ExpireMS: ptr[int64](1500)},
			State{Val: 1.0, TS: now, LC: now, Expire: true, ExpireAt: now + 1500}},
		{"expire zero is none", nil, Write{Val: 1.0, HasVal: true, Expire: ptr[int64](0)},
			State{Val: 1.0, TS: now, LC: now}},
		{"expire negative is none", nil, Write{Val: 1.0, HasVal: true, Expire: ptr[int64](-3)},
			State{Val: 1.0, TS: now, LC: now}},
		{"expire not inherited", &State{Val: 1.0, Expire: true, ExpireAt: now + 5, LC: 3}, Write{Val: 1.0, HasVal: true},
			State{Val: 1.0, TS: now, LC: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before State
			if tt.prev != nil {
				before = *tt.prev
			}
			got := NewState(tt.prev, tt.w, now)
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", *got, tt.want)
			}
			if tt.prev != nil && !reflect.DeepEqual(before, *tt.prev) {
				t.Fatalf("prev modified: %+v", *tt.prev)
			}
		})
	}
}

func TestTruncateUTF16(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 2, "ab"},
		{"abc", 3, "abc"},
		{"äöü", 2, "äö"},   // 2 bytes each, 1 unit each
		{"€€€€", 3, "€€€"}, // 3 bytes, 1 unit
		{"a😀b", 2, "a"},    // the pair would be split: dropped whole
		{"a😀b", 3, "a😀"},   // the pair counts 2
		{strings.Repeat("ä", 600), 512, strings.Repeat("ä", 512)},
	}
	for _, tt := range tests {
		if got := truncateUTF16(tt.in, tt.n); got != tt.want {
			t.Errorf("truncateUTF16(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	vals := []any{nil, true, false, 0.0, 1.0, -1.0, 1.5, -0.000001, 1e-7, 123456789012345678.0, 1e21, 1e300,
		math.MaxInt64, 42, int64(-7), json.Number("3.25"), "", "plain", `quo"te\back`, "<html>&amp;", "tab\tnl\nctl\x01",
		"\u2028\u2029", "bad\xffutf8", "ünïcödé 😀", map[string]any{"a": []any{1.0, "x", nil}}, []any{}}
	for _, v := range vals {
		for _, st := range []State{
			{Val: v},
			{Val: v, Ack: true, TS: 1700000000000, Q: 0x82, From: "system.adapter.socketio.0", User: "system.user.admin",
				LC: 1600000000000, C: "comment <b>", Expire: true, ExpireAt: 123},
		} {
			want, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			if got := AppendJSON(nil, &st); string(got) != string(want) {
				t.Errorf("AppendJSON(%#v)\n got %s\nwant %s", v, got, want)
			}
		}
	}
}

func TestAppendJSONSpecialFloats(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := string(AppendJSON(nil, &State{Val: f})); got != `{"val":null,"ack":false,"ts":0,"q":0,"lc":0}` {
			t.Errorf("val %v: %s", f, got)
		}
	}
	if got := string(AppendJSON(nil, &State{Val: math.Copysign(0, -1)})); !strings.HasPrefix(got, `{"val":0,`) {
		t.Errorf("-0: %s", got)
	}
}

func TestDiskRoundTrip(t *testing.T) {
	in := &State{Val: "x", Ack: true, TS: 1, Q: 2, From: "f", User: "u", LC: 3, C: "c", Expire: true, ExpireAt: 1700000000000}
	b := appendDisk(nil, in)
	if !json.Valid(b) {
		t.Fatalf("invalid: %s", b)
	}
	out, err := decodeDisk(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: %+v != %+v", out, in)
	}
}
