package transport

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/states"
)

// benchSub is a subscriber with a connection's outbox and no wire: what the
// fan-out costs brokerd itself (match, ACL check, encode once, queue per
// subscriber), without the Socket.IO library's write path.
type benchSub struct {
	out *outbox
	sub *acl.Subject
}

func (b *benchSub) subject() *acl.Subject { return b.sub }
func (b *benchSub) deliver(ev *event) {
	if f, err := ev.frame(); err == nil {
		b.out.pushEvent(ev.key, f)
	}
}

// BenchmarkFanoutStateChange: one state change delivered to N subscribers
// on "*" (go test -run X -bench FanoutStateChange ./transport/). ns/op is
// per change; divide by N for the cost per delivery.
func BenchmarkFanoutStateChange(b *testing.B) {
	for _, n := range []int{1, 50, 500} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			srv, _ := testServer(b, Options{})
			subs := make([]*benchSub, n)
			for i := range subs {
				subs[i] = &benchSub{out: newOutbox(1 << 20), sub: adminSubject()}
				if err := srv.stateSubs.Add("*", subs[i]); err != nil {
					b.Fatal(err)
				}
			}
			st := &states.State{Val: 21.5, Ack: true, TS: 1, LC: 1, From: "system.adapter.bench.0"}
			ch := states.Change{ID: "bench.0.temperature", State: st, JSON: json.RawMessage(states.AppendJSON(nil, st))}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				srv.onStateChange(ch)
				if i%256 == 255 {
					for _, s := range subs {
						s.out.take()
					}
				}
			}
		})
	}
}
