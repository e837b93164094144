package states

import (
	"reflect"
	"testing"
)

func TestDecodeFastMatchesEncodingJSON(t *testing.T) {
	vals := []any{nil, true, false, 0.0, -1.5, 1e21, 1e-7, "", "plain, with comma", `quo"te`, "<tag>", "ünï 😀",
		"a\nb", map[string]any{"a": []any{1.0, nil}}, []any{"x"}}
	var d decoder
	for _, v := range vals {
		for _, st := range []*State{
			{Val: v},
			{Val: v, Ack: true, TS: 1700000000000, Q: 0x82, From: "system.adapter.socketio.0", User: "system.user.admin",
				LC: 1600000000000, C: "c, \"quoted\"", Expire: true, ExpireAt: 1700000009999},
		} {
			b := appendDisk(nil, st)
			want, err := decodeDisk(b)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.decode(b)
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(got, normalized(st)) {
				t.Fatalf("%s:\n got %+v\nwant %+v", b, got, want)
			}
		}
	}
	// Plain records take the fast path.
	if _, err := d.fast(appendDisk(nil, benchState())); err != nil {
		t.Fatalf("fast path refused a plain state: %v", err)
	}
	for _, bad := range []string{``, `{`, `{"val":1,"x":2}`, `{"val":Inf}`, `{"val":0x10}`, `{"ack":1}`, `{"val":1`} {
		if _, err := d.fast([]byte(bad)); err == nil {
			t.Errorf("fast(%q) accepted", bad)
		}
	}
}

// normalized is st as JSON would give it back (numbers as float64).
func normalized(st *State) *State {
	c := *st
	c.Val = normalizeNumber(c.Val)
	return &c
}
