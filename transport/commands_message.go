package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/brokerd/brokerd/acl"
)

// MessageRouter delivers messages to adapter instances and hosts (protocol.md
// 10). Calls block until the target replies or ctx ends; an instance that is
// not connected must fail at once with ErrNotConnected rather than wait.
type MessageRouter interface {
	// SendTo sends command/message from `from` to instance
	// ("system.adapter.<name>.<n>") and returns its reply.
	SendTo(ctx context.Context, from, instance, command string, message any) (reply any, err error)
	// SendToHost does the same for a host ("system.host.<name>").
	SendToHost(ctx context.Context, from, host, command string, message any) (reply any, err error)
	// ClientSubscribe forwards clientSubscribe {type, sid, data} to target.
	ClientSubscribe(ctx context.Context, target, sid, msgType string, data any) (reply any, err error)
	// ClientUnsubscribe tells target that socket sid dropped msgTypes.
	ClientUnsubscribe(target, sid string, msgTypes []string, reason string)
}

// IMResult is what became of an instance message (`im`) for one socket.
type IMResult int

// Outcomes of an instance message; the cluster router sends the numbers
// between nodes, so new ones are appended.
const (
	IMNoSocket      IMResult = iota // no socket with that id is connected here
	IMNotSubscribed                 // the socket did not clientSubscribe to (source, type)
	IMDelivered                     // emitted to the socket
)

// IMRouter is implemented by a MessageRouter that reaches the sockets of
// other nodes (cluster.Router). publishIM hands it the instance messages
// whose socket is not connected to this server.
type IMRouter interface {
	// PublishIM delivers msgType/data from source to socket sid wherever
	// it is connected and calls done exactly once with the outcome. It
	// returns once the message is queued, and messages of successive calls
	// reach their socket in call order.
	PublishIM(sid, source, msgType string, data any, done func(IMResult, error))
}

// ErrNotConnected is returned by a MessageRouter for targets that are not running.
var ErrNotConnected = errors.New("not connected")

// messageTimeout bounds a routed message; the reference waits forever, but
// a connection must not keep goroutines for ever (sendTo has no reply then).
const messageTimeout = time.Hour

// hostProtected are sendToHost commands that need other.execute (protocol.md 10.2).
var hostProtected = map[string]bool{
	"cmdExec": true, "getLocationOnDisk": true, "getDiagData": true, "getDevList": true, "delLogs": true,
	"writeDirAsZip": true, "writeObjectsAsZip": true, "readObjectsAsZip": true, "checkLogging": true,
	"updateMultihost": true, "rebuildAdapter": true,
}

func init() {
	register("httpGet", &Command{Perm: Perm{"other", "http"}, Params: []Param{{"url", KString, false}}, Async: true,
		Ack: "(null, {status, statusText}, body) or (err)", Doc: "server-side GET, 15 s timeout, status ≥ 400 is an error", Handler: cmdHTTPGet})
	register("sendTo", &Command{Perm: Perm{"other", "sendto"}, Async: true, Inline: isIMPublish,
		Params: []Param{{"instance", KString, false}, {"command", KString, false}, {"message", KAny, false}},
		Ack:    "(reply)", Doc: "message to an instance; {error} when it is not connected", Handler: cmdSendTo})
	register("sendToHost", &Command{Perm: Perm{"other", "sendto"}, Async: true,
		PermFor: func(a Args) Perm {
			if hostProtected[a.Str(1)] {
				return Perm{"other", "execute"}
			}
			return Perm{"other", "sendto"}
		},
		Denied: []any{map[string]any{"error": errPermission}},
		Params: []Param{{"host", KString, false}, {"command", KString, false}, {"message", KAny, true}},
		Ack:    "(reply)", Doc: "message to a host; protected commands need other.execute", Handler: cmdSendToHost})
	register("clientSubscribe", &Command{Perm: Perm{"other", "sendto"}, Async: true, Socket: true,
		Params: []Param{{"targetInstance", KString, false}, {"messageType", KString, false}, {"data", KAny, true}},
		Ack:    "(err, reply)", Doc: "subscribe to instance messages (im events)", Handler: cmdClientSubscribe})
	register("clientUnsubscribe", &Command{Perm: Perm{"other", "sendto"}, Socket: true,
		Params: []Param{{"targetInstance", KString, false}, {"messageType", KString, false}},
		Ack:    "(err, wasSubscribed)", Doc: "drop an instance message subscription", Handler: cmdClientUnsubscribe})
	register("getHistory", &Command{Perm: Perm{"state", "read"}, Via: "getStateHistory", Async: true,
		Params: []Param{{"id", KString, false}, {"options", KStringOrObject, true}},
		Ack:    "(err, values, step, sessionId)", Doc: "forwarded to options.instance or system.config common.defaultHistory", Handler: cmdGetHistory})
}

func cmdHTTPGet(call *Call) {
	s := call.srv
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.HTTPGetTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, call.Args.Str(0), nil)
	if err != nil {
		call.Fail(err)
		return
	}
	resp, err := s.http.Do(req)
	if err != nil {
		call.Fail(err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.opts.MaxMessageSize))
	if err != nil {
		call.Fail(err)
		return
	}
	if resp.StatusCode >= 400 {
		call.Reply(map[string]any{"message": "Request failed with status code " + fmt.Sprint(resp.StatusCode), "status": resp.StatusCode})
		return
	}
	statusText := strings.TrimSpace(strings.TrimPrefix(resp.Status, fmt.Sprint(resp.StatusCode)))
	call.Reply(nil, map[string]any{"status": resp.StatusCode, "statusText": statusText}, body)
}

// DefaultSendToTimeout bounds a sendTo to a connected instance.
const DefaultSendToTimeout = 30 * time.Second

// router delivers to instances on this server first, then Options.Router.
func (s *Server) router() MessageRouter { return localRouter{s} }

// isIMPublish: an instance publishing `im` to this broker (publishIM only
// queues, it never waits for other nodes).
func isIMPublish(call *Call) bool {
	return call.c != nil && call.c.instance != "" && instanceID(call.Args.Str(0)) == call.srv.from && call.Args.Str(1) == "im"
}

func instanceID(name string) string {
	if strings.HasPrefix(name, "system.adapter.") {
		return name
	}
	return "system.adapter." + name
}

func (c *conn) routeContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), messageTimeout)
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func notConnected(target string) map[string]any {
	return map[string]any{"error": "instance " + shortName(target) + " is not connected"}
}

func cmdSendTo(call *Call) {
	s, target := call.srv, instanceID(call.Args.Str(0))
	if call.Args.Str(0) == "" {
		call.Reply(map[string]any{"error": "no instance given"})
		return
	}
	if target == s.from && call.Args.Str(1) == "im" && call.c != nil {
		s.publishIM(call)
		return
	}
	ctx, cancel := call.context()
	defer cancel()
	reply, err := s.router().SendTo(ctx, call.from(), target, call.Args.Str(1), call.Args.Any(2))
	if err != nil {
		if errors.Is(err, ErrNotConnected) {
			call.Reply(notConnected(target))
		} else {
			call.Reply(map[string]any{"error": err.Error()})
		}
		return
	}
	call.Reply(reply)
}

func cmdSendToHost(call *Call) {
	s := call.srv
	host := call.Args.Str(0)
	if host != "" && !strings.HasPrefix(host, "system.host.") {
		host = "system.host." + host
	}
	ctx, cancel := call.context()
	defer cancel()
	reply, err := s.router().SendToHost(ctx, call.from(), host, call.Args.Str(1), call.Args.Any(2))
	if err != nil {
		if errors.Is(err, ErrNotConnected) {
			call.Reply(notConnected(host))
		} else {
			call.Reply(map[string]any{"error": err.Error()})
		}
		return
	}
	call.Reply(reply)
}

func cmdClientSubscribe(call *Call) {
	s, c := call.srv, call.c
	target, typ := instanceID(call.Args.Str(0)), call.Args.Str(1)
	c.mu.Lock()
	if c.clientSubs != nil {
		c.clientSubs[[2]string{target, typ}] = true
	}
	c.mu.Unlock()
	ctx, cancel := c.routeContext()
	defer cancel()
	reply, err := s.router().ClientSubscribe(ctx, target, c.id, typ, call.Args.Any(2))
	if errors.Is(err, ErrNotConnected) {
		err = errors.New(target + " is not connected")
	}
	if err != nil {
		call.Reply(nil, map[string]any{"accepted": false, "error": err.Error()})
		return
	}
	call.Reply(nil, reply)
}

func cmdClientUnsubscribe(call *Call) {
	s, c := call.srv, call.c
	target, typ := instanceID(call.Args.Str(0)), call.Args.Str(1)
	key := [2]string{target, typ}
	c.mu.Lock()
	was := c.clientSubs[key]
	delete(c.clientSubs, key)
	c.mu.Unlock()
	if was {
		go s.router().ClientUnsubscribe(target, c.id, []string{typ}, "client")
	}
	call.Reply(nil, was)
}

// publishIM handles an instance's `sendTo(<this broker>, "im", {m, s, d})`:
// the message goes to socket s if it clientSubscribed to (instance, m), on
// this server or, through Options.Router, on another node. The ack is
// {delivered: true} or the "no one subscribed" error (protocol.md 10.3).
func (s *Server) publishIM(call *Call) {
	c := call.c
	m, _ := call.Args.Any(2).(map[string]any)
	typ, _ := m["m"].(string)
	sid, _ := m["s"].(string)
	if c.instance == "" || typ == "" || sid == "" {
		call.Reply(map[string]any{"error": "im needs an instance connection and {m, s, d}"})
		return
	}
	answer := func(res IMResult, err error) {
		switch {
		case err != nil:
			call.Reply(map[string]any{"error": err.Error(), "type": typ, "sid": sid})
		case res == IMDelivered:
			call.Reply(map[string]any{"delivered": true})
		default:
			call.Reply(map[string]any{"error": "no one subscribed", "type": typ, "sid": sid})
		}
	}
	res := s.DeliverIM(sid, c.instance, typ, m["d"])
	if ir, ok := s.opts.Router.(IMRouter); ok && res == IMNoSocket {
		// A socket of another node; a socket here that did not subscribe
		// must not be looked for elsewhere (socket ids are unique).
		ir.PublishIM(sid, instanceID(c.instance), typ, m["d"], answer)
		return
	}
	answer(res, nil)
}

// DeliverIM emits an instance message to socket sid of this server if it
// subscribed to (source, msgType). The cluster router calls it for
// messages of instances on other nodes.
func (s *Server) DeliverIM(sid, source, msgType string, data any) IMResult {
	source = instanceID(source)
	s.mu.Lock()
	var target *conn
	for c := range s.conns {
		if c.id == sid {
			target = c
			break
		}
	}
	s.mu.Unlock()
	if target == nil {
		return IMNoSocket
	}
	target.mu.Lock()
	ok := target.clientSubs[[2]string{source, msgType}]
	target.mu.Unlock()
	if !ok {
		return IMNotSubscribed
	}
	target.emit(evIM, msgType, source, data)
	return IMDelivered
}

func cmdGetHistory(call *Call) {
	s, sub := call.srv, call.Subject()
	id := call.Args.Str(0)
	if !s.stateAllowed(sub, id, acl.Read) {
		call.Fail(ErrPermission)
		return
	}
	opts := map[string]any{}
	switch o := call.Args.Any(1).(type) {
	case string:
		opts["instance"] = o
	case map[string]any:
		for k, v := range o {
			opts[k] = v
		}
	}
	now := time.Now().UnixMilli()
	opts["user"] = sub.User
	if _, ok := opts["aggregate"]; !ok {
		opts["aggregate"] = "none"
	}
	if _, ok := opts["end"]; !ok {
		opts["end"] = now + 5000*1000
	}
	_, hasStart := opts["start"]
	_, hasCount := opts["count"]
	if !hasStart && !hasCount {
		opts["start"] = now - 7*24*3600*1000
	}
	instance, _ := opts["instance"].(string)
	if instance == "" {
		instance = s.defaultHistory()
	}
	if instance == "" {
		call.Fail(errors.New("no history instance configured"))
		return
	}
	instance = instanceID(instance)
	ctx, cancel := call.context()
	defer cancel()
	reply, err := s.router().SendTo(ctx, call.from(), instance, "getHistory", map[string]any{"id": id, "options": opts})
	if err != nil {
		if errors.Is(err, ErrNotConnected) {
			err = errors.New(instance + " is not connected")
		}
		call.Fail(err)
		return
	}
	r, _ := reply.(map[string]any)
	var errV any
	if e, ok := r["error"]; ok && e != nil {
		errV = e
	}
	call.Reply(errV, r["result"], r["step"], r["sessionId"])
}

// defaultHistory reads system.config common.defaultHistory.
func (s *Server) defaultHistory() string {
	if s.st.Objects == nil {
		return ""
	}
	obj, err := s.st.Objects.Get("system.config")
	if err != nil || obj == nil {
		return ""
	}
	common, _ := obj["common"].(map[string]any)
	h, _ := common["defaultHistory"].(string)
	return h
}
