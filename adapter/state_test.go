package adapter

import (
	"encoding/json"
	"math"
	"testing"
)

func TestStateHelpers(t *testing.T) {
	for _, tc := range []struct {
		val  any
		b    bool
		f    float64
		fok  bool
		text string
	}{
		{nil, false, 0, false, ""},
		{true, true, 1, true, "true"},
		{false, false, 0, true, "false"},
		{float64(0), false, 0, true, "0"},
		{21.5, true, 21.5, true, "21.5"},
		{float64(100), true, 100, true, "100"},
		{1e21, true, 1e21, true, "1000000000000000000000"},
		{math.NaN(), false, math.NaN(), true, "NaN"},
		{"", false, 0, false, ""},
		{"0", false, 0, true, "0"},
		{"false", false, 0, false, "false"},
		{"OFF", false, 0, false, "OFF"},
		{"aus", false, 0, false, "aus"},
		{"on", true, 0, false, "on"},
		{" 42.5 ", true, 42.5, true, " 42.5 "},
		{int64(7), true, 7, true, "7"},
		{7, true, 7, true, "7"},
		{json.Number("3"), true, 3, true, "3"},
		{[]any{1.0, "a"}, true, 0, false, `[1,"a"]`},
		{map[string]any{"a": 1.0}, true, 0, false, `{"a":1}`},
	} {
		st := &State{Val: tc.val}
		if got := st.Bool(); got != tc.b {
			t.Errorf("%#v: Bool = %v", tc.val, got)
		}
		f, ok := st.Float()
		if ok != tc.fok || (ok && f != tc.f && !(math.IsNaN(f) && math.IsNaN(tc.f))) {
			t.Errorf("%#v: Float = %v, %v", tc.val, f, ok)
		}
		if got := st.String(); got != tc.text {
			t.Errorf("%#v: String = %q, want %q", tc.val, got, tc.text)
		}
	}
	var nilState *State
	if nilState.Bool() || nilState.String() != "" {
		t.Error("nil state helpers")
	}
	if _, ok := nilState.Float(); ok {
		t.Error("nil state Float ok")
	}
}

func TestStateJSON(t *testing.T) {
	b, err := json.Marshal(State{Val: 5.0, Ack: true})
	if err != nil || string(b) != `{"val":5,"ack":true,"q":0}` {
		t.Fatalf("minimal state: %s %v", b, err)
	}
	b, _ = json.Marshal(State{Val: nil, Q: QualityDeviceNotConnected, C: "offline", Expire: 30, TS: 1700000000000})
	if string(b) != `{"val":null,"ack":false,"ts":1700000000000,"q":66,"c":"offline","expire":30}` {
		t.Fatalf("full state: %s", b)
	}
	var st State
	in := `{"val":"x","ack":true,"ts":1700000000000.0,"lc":1690000000000,"q":2,"from":"system.adapter.haa.0","user":"system.user.admin","c":"hi","expire":true}`
	if err := json.Unmarshal([]byte(in), &st); err != nil {
		t.Fatal(err)
	}
	want := State{Val: "x", Ack: true, TS: 1700000000000, LC: 1690000000000, Q: 2, From: "system.adapter.haa.0", User: "system.user.admin", C: "hi", Expiring: true}
	if st != want {
		t.Fatalf("decoded %+v\nwant %+v", st, want)
	}
	// A decoded state written back must be accepted by setState: no expire:true.
	b, _ = json.Marshal(st)
	var back map[string]any
	json.Unmarshal(b, &back)
	if _, ok := back["expire"]; ok {
		t.Fatalf("expire marker written back: %s", b)
	}
}
