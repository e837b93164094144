package transport

import (
	"net/http"
	"sync"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// gatedCtor wraps the Engine.IO transport constructor to close two races of
// the library, which sends before its own state is ready:
//
//   - the open packet goes out before the socket.io layer has registered its
//     "data" listener (and before the engine knows the sid), so an EIO4
//     client answering at once with "40" is lost or gets "Session ID unknown";
//   - the CONNECT packet ("40", "40{sid}") goes out before the client records
//     the namespace socket, so an event sent right after it is taken for a
//     protocol violation and the connection is closed.
//
// A new session's transport therefore holds its writes: an EIO4 session until
// the engine's connection event (open packet) and again until our connection
// handler ran (CONNECT answer); an EIO3 session, where the server connects
// "/" by itself, until our connection handler ran.
type gatedCtor struct{ transports.TransportCtor }

func (g gatedCtor) New(ctx *types.HttpContext) transports.Transport {
	t := g.TransportCtor.New(ctx)
	if q := releaseQueue(t, "writeQueue"); q != nil { // queueleak.go
		if t.Name() == transports.POLLING {
			// Like the websocket's below: the library closes this queue only
			// in DoClose, which a session the client ended never reaches;
			// its goroutine (and with it the session) stayed for good.
			_ = t.Once("close", func(...any) { q.TryClose() })
		}
	}
	if t.Name() == "websocket" {
		// The library stops a websocket's write-queue goroutine only when the
		// server closes it; a client-side close left one goroutine (and ~19 kB)
		// behind per connection. Run the server-side close on every close.
		_ = t.Once("close", func(...any) { go t.DoClose(nil) }) // async: DoClose re-emits "close"
		t = withCork(t, ctx)
	}
	if ctx.Query().Peek("sid") != "" {
		return t // upgrade of an established session
	}
	return &gatedTransport{Transport: t, holding: true, eio4: ctx.Query().Peek("EIO") == "4"}
}

type gatedTransport struct {
	transports.Transport
	eio4    bool
	mu      sync.Mutex
	holding bool
	held    [][]*packet.Packet

	// Polling GETs (see OnRequest): the pending one, a channel closed once
	// the previous one finished its cleanup, and whether the session ended.
	pmu       sync.Mutex
	poll      *types.HttpContext
	pollClean chan struct{}
	ended     bool
}

// pollSettle bounds how long a poll waits for the previous one's cleanup;
// pollGrace is how long a poll of an ended session is left to the library
// before it is answered with a close packet.
const (
	pollSettle = 5 * time.Second
	pollGrace  = time.Second
)

// OnRequest works around the polling transport's cleanup of a finished GET:
// the library clears its pending-request slot only after it has let the
// response go, so under load the old request's cleanup can wipe out the
// next GET the client already sent ("polling write error", the session
// closes and that GET is never answered). A GET is therefore handed on only
// once the previous one finished its cleanup ("close" is emitted after it),
// and a GET still open when the session ends is answered with a close packet.
func (g *gatedTransport) OnRequest(ctx *types.HttpContext) {
	if ctx.Method() != http.MethodGet || g.Name() != transports.POLLING {
		g.Transport.OnRequest(ctx)
		return
	}
	clean := make(chan struct{})
	_ = ctx.Once("close", func(...any) { close(clean) })
	g.pmu.Lock()
	prev := g.pollClean
	g.pollClean = clean
	g.pmu.Unlock()
	if prev != nil {
		t := time.NewTimer(pollSettle)
		select {
		case <-prev:
		case <-t.C:
		}
		t.Stop()
	}
	g.pmu.Lock()
	g.poll = ctx
	ended := g.ended
	g.pmu.Unlock()
	g.Transport.OnRequest(ctx)
	if ended {
		time.AfterFunc(pollGrace, g.answerOrphan)
	}
}

// sessionEnded runs when the engine socket closes.
func (g *gatedTransport) sessionEnded(...any) {
	g.pmu.Lock()
	g.ended = true
	g.pmu.Unlock()
	time.AfterFunc(pollGrace, g.answerOrphan)
}

// answerOrphan answers a GET of an ended session that the library left
// open, so the client learns the session is gone instead of waiting forever.
func (g *gatedTransport) answerOrphan() {
	g.pmu.Lock()
	ctx := g.poll
	g.pmu.Unlock()
	if ctx == nil || ctx.IsDone() {
		return
	}
	pkt := "1" // a CLOSE packet
	if !g.eio4 {
		pkt = "1:1"
	}
	_, _ = ctx.Write([]byte(pkt))
}

// Send queues packets while holding; otherwise it passes straight through.
func (g *gatedTransport) Send(packets []*packet.Packet) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holding {
		g.held = append(g.held, packets)
		return
	}
	g.Transport.Send(packets)
}

// release lets held packets out as one batch (a polling response can carry
// only one). The engine counts one drain per Send, so the batches merged
// away get their drain events now; none of them carries a send callback.
func (g *gatedTransport) release(rearm bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var all []*packet.Packet
	for _, b := range g.held {
		all = append(all, b...)
	}
	merged := len(g.held) - 1
	g.held = nil
	g.holding = false
	if len(all) > 0 {
		g.Transport.Send(all)
		for ; merged > 0; merged-- {
			g.Transport.Emit("drain")
		}
	}
	g.holding = rearm
}

func gateOf(es engine.Socket) *gatedTransport {
	if es == nil {
		return nil
	}
	g, _ := es.Transport().(*gatedTransport)
	return g
}

// releaseOpen runs on the engine's connection event after the socket.io
// server's own listener (registered first), i.e. once its listeners exist.
func releaseOpen(args ...any) {
	if len(args) == 0 {
		return
	}
	es, _ := args[0].(engine.Socket)
	g := gateOf(es)
	if g == nil {
		return
	}
	if g.Name() == transports.POLLING {
		_ = es.Once("close", g.sessionEnded)
	}
	if g.eio4 {
		g.release(true)
	}
}

// releaseConnected opens the gate for good: after our connection handler
// (socket registered everywhere) or when the socket is refused.
func releaseConnected(es engine.Socket) {
	if g := gateOf(es); g != nil {
		g.release(false)
	}
}
