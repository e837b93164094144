// Package adapter is the Go SDK for brokerd adapters: processes that connect
// to brokerd's Socket.IO endpoint as an instance ("haa.0", docs/adapters.md),
// publish device values as states, execute commands written to their
// namespace and answer sendTo messages.
//
// A minimal adapter:
//
//	a, err := adapter.New(adapter.Options{URL: "http://127.0.0.1:8084", Instance: "haa.0"})
//	…
//	a.OnCommand(func(ctx context.Context, id string, st *adapter.State) {
//		// drive the device, then confirm:
//		a.SetState(ctx, id, st.Val, true)
//	})
//	err = a.Run(ctx) // until ctx ends; reconnects and re-subscribes on its own
//
// # Ids
//
// Like ioBroker's setState / setForeignState, the methods come in two kinds:
//
//   - Own-namespace methods (SetState, SetStateFull, GetState, SetObject,
//     GetObject, ExtendObject, Subscribe, Unsubscribe) resolve their id
//     against the instance namespace ns: "" is ns itself; an id for which
//     IsAbsolute is true is used unchanged — it starts with "system.",
//     "0_userdata.", "alias.", "enum.", "script." or "_design/", or its first
//     two segments are an instance namespace "<adapter>.<n>" (adapter: ASCII
//     letter, then letters, digits, '-' or '_'; n: digits), which covers ns
//     and "<ns>.…" themselves; every other id becomes "<ns>.<id>". With
//     instance "haa.0": "lamp1" → "haa.0.lamp1", "haa.0.lamp1" → itself,
//     "hue.1.light" → itself, "system.adapter.haa.0.alive" → itself,
//     "room.kitchen" → "haa.0.room.kitchen", but "room.1.temp" → itself
//     (it looks like instance "room.1"). A relative id that begins with
//     "<name>.<digits>" must therefore be written in full ("haa.0.room.1.temp").
//   - Foreign methods (SetForeignState, SetForeignStateFull, GetForeignState,
//     SetForeignObject, GetForeignObject, ExtendForeignObject,
//     SubscribeForeign, UnsubscribeForeign) use the id exactly as given.
//
// SetObject also applies the own-namespace object rules: type is mandatory,
// missing common/native become {}, a missing common.name becomes the id.
//
// # Events
//
// OnCommand receives writes with ack=false to ids under "<ns>." (the SDK
// subscribes "<ns>.*" itself once a command handler is set). OnStateChange
// receives every other event whose id matches a pattern given to Subscribe or
// SubscribeForeign (also deletions and expiries, with a nil *State). State
// handlers, OnConnect and OnDisconnect run one at a time, in arrival order, on
// one goroutine; OnMessage handlers run each on their own goroutine. Handlers
// may call any method of the Adapter except Close.
//
// # Connection
//
// Start (or Run) connects with the instance in the Socket.IO auth payload
// (EIO4) or the handshake query (EIO3). When the connection drops the SDK
// reconnects with exponential backoff and jitter and re-subscribes every
// pattern. Calls made while disconnected wait for the next connection, bounded
// by their context; a call whose connection drops before the answer fails
// with ErrDisconnected (it may or may not have been executed).
package adapter
