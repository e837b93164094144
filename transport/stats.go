package transport

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brokerd/brokerd/hoststats"
)

// counters are the server's running totals; Stats exposes them (the lead
// exports them to Prometheus, the system/stats stream turns them into rates).
type counters struct {
	commands    atomic.Uint64
	stateWrites atomic.Uint64
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	// Commands counts commands through the gate (Socket.IO, REST, plain
	// WebSocket), including refused ones, since start.
	Commands uint64
	// StateWrites counts committed state writes (any source) since start.
	StateWrites uint64
	// Connections is the number of Socket.IO sockets.
	Connections int
	// Streams is the number of plain WebSocket streams per endpoint.
	Streams map[string]int
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	return Stats{
		Commands:    s.stats.commands.Load(),
		StateWrites: s.stats.stateWrites.Load(),
		Connections: s.Connections(),
		Streams:     s.ws.counts(),
	}
}

// rates turns the counters into per-second figures over the time since the
// previous sample; samples closer than a second apart share one figure, so
// several stats streams do not disturb each other.
type rates struct {
	mu                 sync.Mutex
	at                 time.Time
	commands, writes   uint64
	cmdRate, writeRate float64
}

func (r *rates) sample(st Stats) (cmd, writes float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.at.IsZero() {
		r.at, r.commands, r.writes = now, st.Commands, st.StateWrites
		return 0, 0
	}
	if d := now.Sub(r.at).Seconds(); d >= 1 {
		r.cmdRate = float64(st.Commands-r.commands) / d
		r.writeRate = float64(st.StateWrites-r.writes) / d
		r.at, r.commands, r.writes = now, st.Commands, st.StateWrites
	}
	return r.cmdRate, r.writeRate
}

// brokerStats is the message of /api/v1/ws/system/stats and the answer of
// getBrokerStats: the broker's own figures.
type brokerStats struct {
	Type        string       `json:"type"`
	TS          int64        `json:"ts"`
	CPU         float64      `json:"cpu"` // % of one CPU, like top
	Memory      memoryStats  `json:"memory"`
	Uptime      float64      `json:"uptime"` // seconds since the server started
	Load        []float64    `json:"load"`   // 1, 5, 15 min; empty when unknown
	Connections connStats    `json:"connections"`
	Rates       commandRates `json:"rates"`
	Totals      totals       `json:"totals"`
}

type memoryStats struct {
	RSS       uint64 `json:"rss"`       // bytes, 0 when unknown
	HeapAlloc uint64 `json:"heapAlloc"` // bytes of live Go heap
	HeapSys   uint64 `json:"heapSys"`   // bytes of heap obtained from the OS
	Sys       uint64 `json:"sys"`       // bytes obtained from the OS in total
}

type connStats struct {
	SocketIO int            `json:"socketio"`
	Streams  map[string]int `json:"streams"`
}

type commandRates struct {
	Commands    float64 `json:"commandsPerSecond"`
	StateWrites float64 `json:"stateWritesPerSecond"`
}

type totals struct {
	Commands    uint64 `json:"commands"`
	StateWrites uint64 `json:"stateWrites"`
}

// hostFigures reads the process figures (shared meters, see rates).
type hostFigures struct {
	proc hoststats.Proc
	cpu  *hoststats.CPUMeter
}

func (s *Server) brokerStats() brokerStats {
	st := s.Stats()
	cmd, writes := s.rates.sample(st)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out := brokerStats{
		Type:        "stats",
		TS:          nowMS(),
		Uptime:      time.Since(s.started).Seconds(),
		Memory:      memoryStats{HeapAlloc: ms.HeapAlloc, HeapSys: ms.HeapSys, Sys: ms.Sys},
		Load:        []float64{},
		Connections: connStats{SocketIO: st.Connections, Streams: st.Streams},
		Rates:       commandRates{Commands: cmd, StateWrites: writes},
		Totals:      totals{Commands: st.Commands, StateWrites: st.StateWrites},
	}
	if v, ok := s.host.cpu.Percent(); ok {
		out.CPU = v
	}
	if rss, err := s.host.proc.RSS(); err == nil {
		out.Memory.RSS = rss
	}
	if l, err := s.host.proc.Load(); err == nil {
		out.Load = l[:]
	}
	return out
}

func init() {
	register("getBrokerStats", &Command{Perm: Perm{"state", "read"}, Ack: "(null, stats)",
		Doc:     "the broker's own figures (CPU, memory, uptime, load, connections, rates), as /api/v1/ws/system/stats sends them",
		Handler: func(call *Call) { call.Reply(nil, call.srv.brokerStats()) }})
}
