package adapter

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/brokerd/brokerd/sioclient"
)

// Message is a sendTo message addressed to this instance.
type Message struct {
	Command string          // e.g. "status"
	Message json.RawMessage // the payload as sent (null when none)
	From    string          // sender, "system.adapter.<namespace>"
}

// Decode unmarshals the payload into v; a missing or null payload is an error.
func (m Message) Decode(v any) error {
	if len(m.Message) == 0 || string(m.Message) == "null" {
		return errors.New("adapter: message has no payload")
	}
	return json.Unmarshal(m.Message, v)
}

// onStateEvent runs on the read goroutine: decode, then queue.
func (a *Adapter) onStateEvent(m sioclient.Message) {
	if len(m.Args) == 0 {
		return
	}
	var id string
	if err := json.Unmarshal(m.Args[0], &id); err != nil || id == "" {
		a.log.Warn("stateChange without id", "arg", string(m.Args[0]))
		return
	}
	var st *State
	if !isNull(m.Args, 1) {
		st = new(State)
		if err := json.Unmarshal(m.Args[1], st); err != nil {
			a.log.Warn("undecodable stateChange", "id", id, "err", err)
			return
		}
	}
	a.events.push(func() { a.routeState(id, st) })
}

// routeState delivers one state event to OnCommand or OnStateChange.
func (a *Adapter) routeState(id string, st *State) {
	a.mu.Lock()
	cmd, sc := a.onCommand, a.onState
	matched := false
	if sc != nil {
		for _, m := range a.userSubs {
			if m.Match(id) {
				matched = true
				break
			}
		}
	}
	a.mu.Unlock()
	if cmd != nil && st != nil && !st.Ack && strings.HasPrefix(id, a.ns+".") {
		cmd(a.ctx, id, st)
		return
	}
	if matched {
		sc(a.ctx, id, st)
	}
}

// onMessageEvent runs on the read goroutine; the handler gets its own.
func (a *Adapter) onMessageEvent(m sioclient.Message, reply func(args ...any)) {
	var raw struct {
		Command string          `json:"command"`
		Message json.RawMessage `json:"message"`
		From    string          `json:"from"`
	}
	if len(m.Args) == 0 || json.Unmarshal(m.Args[0], &raw) != nil {
		reply(map[string]any{"error": "invalid message"})
		return
	}
	msg := Message{Command: raw.Command, Message: raw.Message, From: raw.From}
	a.mu.Lock()
	h := a.onMessage
	if a.lc == lcClosed {
		a.mu.Unlock()
		reply(map[string]any{"error": a.ns + " is shutting down"})
		return
	}
	if h == nil {
		a.mu.Unlock()
		reply(map[string]any{"error": a.ns + " does not handle messages"})
		return
	}
	// Add under mu: Close sets lcClosed under mu before it waits.
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		var out any
		answered := false
		defer func() {
			if !answered {
				reply(map[string]any{"error": "internal error"})
			}
		}()
		a.safely("message "+msg.Command, func() {
			out = h(a.ctx, msg)
			if e, ok := out.(error); ok {
				out = map[string]any{"error": e.Error()}
			}
			reply(out)
			answered = true
		})
	}()
}
