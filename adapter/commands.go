package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/brokerd/brokerd/pattern"
	"github.com/brokerd/brokerd/sioclient"
)

// call sends a command and returns the ack arguments after the error slot.
func (a *Adapter) call(ctx context.Context, cmd string, args ...any) ([]json.RawMessage, error) {
	c, err := a.waitConn(ctx)
	if err != nil {
		return nil, fmt.Errorf("adapter: %s: %w", cmd, err)
	}
	m, err := c.EmitAck(ctx, cmd, args...)
	if err != nil {
		if errors.Is(err, sioclient.ErrClosed) {
			return nil, fmt.Errorf("adapter: %s: %w", cmd, ErrDisconnected)
		}
		return nil, fmt.Errorf("adapter: %s: %w", cmd, err)
	}
	if len(m.Args) == 0 {
		return nil, nil
	}
	if err := ackError(cmd, m.Args[0]); err != nil {
		return nil, err
	}
	return m.Args[1:], nil
}

func isNull(r []json.RawMessage, i int) bool {
	return i >= len(r) || strings.TrimSpace(string(r[i])) == "null"
}

// SetState writes val to an own-namespace id (see the package documentation
// for the id rule); ack=true confirms a value, ack=false is a command.
func (a *Adapter) SetState(ctx context.Context, id string, val any, ack bool) error {
	return a.setState(ctx, a.ID(id), State{Val: val, Ack: ack})
}

// SetStateFull writes a complete state (quality, comment, expiry, …) to an
// own-namespace id.
func (a *Adapter) SetStateFull(ctx context.Context, id string, st State) error {
	return a.setState(ctx, a.ID(id), st)
}

// SetForeignState is SetState with id taken verbatim.
func (a *Adapter) SetForeignState(ctx context.Context, id string, val any, ack bool) error {
	return a.setState(ctx, id, State{Val: val, Ack: ack})
}

// SetForeignStateFull is SetStateFull with id taken verbatim.
func (a *Adapter) SetForeignStateFull(ctx context.Context, id string, st State) error {
	return a.setState(ctx, id, st)
}

func (a *Adapter) setState(ctx context.Context, id string, st State) error {
	if err := checkID(id); err != nil {
		return err
	}
	_, err := a.call(ctx, "setState", id, st)
	return err
}

// GetState reads an own-namespace state; nil (and no error) when it has no value.
func (a *Adapter) GetState(ctx context.Context, id string) (*State, error) {
	return a.getState(ctx, a.ID(id))
}

// GetForeignState is GetState with id taken verbatim.
func (a *Adapter) GetForeignState(ctx context.Context, id string) (*State, error) {
	return a.getState(ctx, id)
}

func (a *Adapter) getState(ctx context.Context, id string) (*State, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	r, err := a.call(ctx, "getState", id)
	if err != nil || isNull(r, 0) {
		return nil, err
	}
	st := new(State)
	if err := json.Unmarshal(r[0], st); err != nil {
		return nil, fmt.Errorf("adapter: getState %s: %w", id, err)
	}
	return st, nil
}

// SetObject creates or replaces an own-namespace object. Type is mandatory;
// missing Common and Native become empty, a missing common.name becomes the id.
func (a *Adapter) SetObject(ctx context.Context, id string, obj Object) error {
	id = a.ID(id)
	obj, err := normalizeOwn(id, obj)
	if err != nil {
		return err
	}
	return a.setObject(ctx, id, obj)
}

// SetForeignObject creates or replaces an object with id taken verbatim and
// obj sent as given.
func (a *Adapter) SetForeignObject(ctx context.Context, id string, obj Object) error {
	return a.setObject(ctx, id, obj)
}

func (a *Adapter) setObject(ctx context.Context, id string, obj Object) error {
	if err := checkID(id); err != nil {
		return err
	}
	obj.ID = "" // the server sets _id from the id argument
	_, err := a.call(ctx, "setObject", id, obj)
	return err
}

// GetObject reads an own-namespace object; nil (and no error) when missing.
func (a *Adapter) GetObject(ctx context.Context, id string) (*Object, error) {
	return a.getObject(ctx, a.ID(id))
}

// GetForeignObject is GetObject with id taken verbatim.
func (a *Adapter) GetForeignObject(ctx context.Context, id string) (*Object, error) {
	return a.getObject(ctx, id)
}

func (a *Adapter) getObject(ctx context.Context, id string) (*Object, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	r, err := a.call(ctx, "getObject", id)
	if err != nil || isNull(r, 0) {
		return nil, err
	}
	o := new(Object)
	if err := json.Unmarshal(r[0], o); err != nil {
		return nil, fmt.Errorf("adapter: getObject %s: %w", id, err)
	}
	return o, nil
}

// ExtendObject deep-merges patch into an own-namespace object (creating it
// when missing) and returns the merged object. Only the set fields of patch
// are sent; nested maps merge key by key, a nil map value deletes nothing
// (JSON null overwrites).
func (a *Adapter) ExtendObject(ctx context.Context, id string, patch Object) (*Object, error) {
	return a.extendObject(ctx, a.ID(id), patch)
}

// ExtendForeignObject is ExtendObject with id taken verbatim.
func (a *Adapter) ExtendForeignObject(ctx context.Context, id string, patch Object) (*Object, error) {
	return a.extendObject(ctx, id, patch)
}

func (a *Adapter) extendObject(ctx context.Context, id string, patch Object) (*Object, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	patch.ID = ""
	r, err := a.call(ctx, "extendObject", id, patch)
	if err != nil || isNull(r, 0) {
		return nil, err
	}
	var res struct {
		Value *Object `json:"value"`
	}
	if err := json.Unmarshal(r[0], &res); err != nil {
		return nil, fmt.Errorf("adapter: extendObject %s: %w", id, err)
	}
	return res.Value, nil
}

// Subscribe adds state subscriptions for own-namespace patterns ("*" is every
// state of the instance, "lamp1.*" one device). Events go to OnStateChange.
// Subscriptions are remembered and renewed after every reconnect; while
// disconnected Subscribe only records them (also before Start).
func (a *Adapter) Subscribe(ctx context.Context, patterns ...string) error {
	ps := make([]string, len(patterns))
	for i, p := range patterns {
		ps[i] = a.ID(p)
	}
	return a.subscribe(ctx, ps)
}

// SubscribeForeign is Subscribe with patterns taken verbatim ("*" is every
// state of the broker).
func (a *Adapter) SubscribeForeign(ctx context.Context, patterns ...string) error {
	return a.subscribe(ctx, patterns)
}

func (a *Adapter) subscribe(ctx context.Context, patterns []string) error {
	ms := make([]*pattern.Matcher, len(patterns))
	for i, p := range patterns {
		m, err := pattern.Compile(p)
		if err != nil {
			return fmt.Errorf("adapter: subscribe %q: %w", p, err)
		}
		ms[i] = m
	}
	a.mu.Lock()
	var send []string
	for i, p := range patterns {
		if a.userSubs[p] == nil && !a.autoSubs[p] {
			send = append(send, p)
		}
		a.userSubs[p] = ms[i]
	}
	c := a.conn
	a.mu.Unlock()
	if c == nil || len(send) == 0 {
		return nil
	}
	_, err := a.callOn(ctx, c, "subscribe", send)
	return err
}

// Unsubscribe removes own-namespace patterns given to Subscribe (the exact
// strings; a wildcard is never narrowed).
func (a *Adapter) Unsubscribe(ctx context.Context, patterns ...string) error {
	ps := make([]string, len(patterns))
	for i, p := range patterns {
		ps[i] = a.ID(p)
	}
	return a.unsubscribe(ctx, ps)
}

// UnsubscribeForeign removes patterns given to SubscribeForeign.
func (a *Adapter) UnsubscribeForeign(ctx context.Context, patterns ...string) error {
	return a.unsubscribe(ctx, patterns)
}

func (a *Adapter) unsubscribe(ctx context.Context, patterns []string) error {
	a.mu.Lock()
	var send []string
	for _, p := range patterns {
		if a.userSubs[p] != nil && !a.autoSubs[p] {
			send = append(send, p)
		}
		delete(a.userSubs, p)
	}
	c := a.conn
	a.mu.Unlock()
	if c == nil || len(send) == 0 {
		return nil
	}
	_, err := a.callOn(ctx, c, "unsubscribe", send)
	return err
}

// callOn is call on a given connection (no waiting for a reconnect: the
// pattern set is renewed on the next connection anyway).
func (a *Adapter) callOn(ctx context.Context, c *sioclient.Conn, cmd string, args ...any) ([]json.RawMessage, error) {
	m, err := c.EmitAck(ctx, cmd, args...)
	if err != nil {
		if errors.Is(err, sioclient.ErrClosed) {
			return nil, nil // renewed on reconnect
		}
		return nil, fmt.Errorf("adapter: %s: %w", cmd, err)
	}
	if len(m.Args) > 0 {
		if err := ackError(cmd, m.Args[0]); err != nil {
			return nil, err
		}
		return m.Args[1:], nil
	}
	return nil, nil
}

// SendTo sends a message to another instance ("hue.0") and returns its reply.
// A reply of the form {"error": "<text>"} (also what the broker answers for
// an instance that is not connected) is returned as a *ServerError together
// with the raw reply.
func (a *Adapter) SendTo(ctx context.Context, instance, command string, message any) (json.RawMessage, error) {
	c, err := a.waitConn(ctx)
	if err != nil {
		return nil, fmt.Errorf("adapter: sendTo: %w", err)
	}
	m, err := c.EmitAck(ctx, "sendTo", instance, command, message)
	if err != nil {
		if errors.Is(err, sioclient.ErrClosed) {
			return nil, fmt.Errorf("adapter: sendTo: %w", ErrDisconnected)
		}
		return nil, fmt.Errorf("adapter: sendTo: %w", err)
	}
	if len(m.Args) == 0 {
		return nil, nil
	}
	reply := m.Args[0]
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(reply, &e) == nil && len(e.Error) > 0 {
		if err := ackError("sendTo", e.Error); err != nil {
			return reply, err
		}
	}
	return reply, nil
}
