package transport

import "testing"

func TestOutboxCoalescesAndBounds(t *testing.T) {
	b := newOutbox(2)
	f := func(s string) frame { return frame{text: []byte(s)} }
	b.pushAck(f("ack1"))
	if !b.pushEvent("s1", f("v1")) || !b.pushEvent("s2", f("w1")) || !b.pushEvent("s1", f("v2")) {
		t.Fatal("push refused within bounds")
	}
	if b.pushEvent("s3", f("x")) {
		t.Fatal("third distinct event accepted with maxEvents 2")
	}
	b.pushAck(f("ack2")) // acks are never refused
	var got []string
	for _, it := range b.take() {
		got = append(got, string(it.f.text))
	}
	want := []string{"ack1", "v2", "w1", "ack2"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if !b.pushEvent("s1", f("v3")) || len(b.take()) != 1 {
		t.Fatal("key not released by take")
	}
	b.close()
	if b.waitAckRoom(0) {
		t.Fatal("waitAckRoom after close")
	}
}

func TestEncodeAckWithBinary(t *testing.T) {
	f, err := encodeAck(5, []any{nil, []byte{1, 2}, "text/x", map[string]any{"a": []byte{3}}})
	if err != nil {
		t.Fatal(err)
	}
	if string(f.text) != `62-5[null,{"_placeholder":true,"num":0},"text/x",{"a":{"_placeholder":true,"num":1}}]` || len(f.bins) != 2 {
		t.Fatalf("%s %v", f.text, f.bins)
	}
	f, _ = encodeAck(6, nil)
	if string(f.text) != "36[]" {
		t.Fatalf("empty ack %s", f.text)
	}
}
