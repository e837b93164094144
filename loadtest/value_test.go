package loadtest

import (
	"testing"
)

func TestValueRoundTrip(t *testing.T) {
	tests := []struct {
		w   int
		seq uint64
		ns  int64
	}{
		{0, 0, 0},
		{3, 17, 1763771234123456789},
		{1999, 1 << 40, 1},
	}
	for _, tc := range tests {
		s := EncodeValue(tc.w, tc.seq, tc.ns)
		w, seq, ns, ok := DecodeValue([]byte(s))
		if !ok || w != tc.w || seq != tc.seq || ns != tc.ns {
			t.Errorf("%q decoded to %d %d %d %v", s, w, seq, ns, ok)
		}
	}
}

func TestDecodeValueRejects(t *testing.T) {
	for _, s := range []string{"", "1", "1:2", "1:2:", ":2:3", "1:2:3:4", "a:2:3", "1:2:3x", "1:2:99999999999999999999", "sync:1"} {
		if _, _, _, ok := DecodeValue([]byte(s)); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestStateChangeValue(t *testing.T) {
	tests := []struct {
		name, id, state string
		wantID, wantVal string
		ok              bool
	}{
		{"iobroker", `"brokerload.0.fanout.w0.s1"`, `{"val":"0:5:123","ack":false,"ts":1,"q":0,"from":"system.adapter.socketio.0","user":"system.user.admin","lc":1}`, "brokerload.0.fanout.w0.s1", "0:5:123", true},
		{"spaces", `"a.b"`, `{ "ack": true, "val" : "1:2:3" }`, "a.b", "1:2:3", true},
		{"escaped id", `"a\u002eb"`, `{"val":"1:2:3"}`, "a.b", "1:2:3", true},
		{"number", `"a.b"`, `{"val":12,"ack":true}`, "a.b", "", false},
		{"null state", `"a.b"`, `null`, "a.b", "", false},
		{"escaped val", `"a.b"`, `{"val":"x\"y"}`, "a.b", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, val, ok := StateChangeValue([]byte(tc.id), []byte(tc.state))
			if string(id) != tc.wantID || ok != tc.ok || (ok && string(val) != tc.wantVal) {
				t.Fatalf("got %q %q %v", id, val, ok)
			}
		})
	}
}

func BenchmarkStateChangeValue(b *testing.B) {
	id := []byte(`"brokerload.0.fanout.w0.s1"`)
	st := []byte(`{"val":"0:5:1763771234123456789","ack":false,"ts":1763771234123,"q":0,"from":"system.adapter.socketio.0","user":"system.user.admin","lc":1763771234123}`)
	b.ReportAllocs()
	for b.Loop() {
		_, v, _ := StateChangeValue(id, st)
		DecodeValue(v)
	}
}
