package transport

import (
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// ackID is the acknowledgement id of an inbound event, appended as the last
// argument by ackParser in place of the library's ack callback.
type ackID uint64

// maxAttachments bounds the binary attachments of one inbound packet; the
// parser refuses more (and the connection is closed) before allocating.
const maxAttachments = 16

// ackParser is the socket.io parser with one change on the decoding side:
// an EVENT carrying an ack id gets the id appended to its arguments as an
// ackID and loses its packet id. The library then never creates its own ack
// callback, and every outbound frame (acks and events) goes through the
// connection's single writer, which needs the id to encode the ack itself.
type ackParser struct{}

func (ackParser) NewEncoder() parser.Encoder { return parser.NewEncoder() }

func (ackParser) NewDecoder() parser.Decoder {
	d := &ackDecoder{
		EventEmitter: types.NewEventEmitter(),
		inner:        parser.NewDecoder(&parser.DecoderOptions{MaxAttachments: maxAttachments}),
	}
	_ = d.inner.On("decoded", d.decoded)
	return d
}

// ackDecoder wraps the library decoder; the socket.io client registers its
// listeners on the wrapper's own emitter.
type ackDecoder struct {
	types.EventEmitter
	inner parser.Decoder
}

func (d *ackDecoder) Add(data any) error { return d.inner.Add(data) }

func (d *ackDecoder) Destroy() {
	d.inner.Destroy()
	d.inner.RemoveAllListeners("decoded")
}

func (d *ackDecoder) decoded(args ...any) {
	if len(args) == 0 {
		return
	}
	p, ok := args[0].(*parser.Packet)
	if !ok {
		return
	}
	if (p.Type == parser.ACK || p.Type == parser.BINARY_ACK) && p.Id != nil {
		// The client answering a server request: hand it over as a pseudo
		// event (the library keeps no ack callbacks of ours).
		data, _ := p.Data.([]any)
		p.Type, p.Data, p.Id = parser.EVENT, []any{clientAck{id: *p.Id, args: data}}, nil
	}
	if (p.Type == parser.EVENT || p.Type == parser.BINARY_EVENT) && p.Id != nil {
		if data, ok := p.Data.([]any); ok {
			p.Data = append(data, ackID(*p.Id))
			p.Id = nil
		}
	}
	d.Emit("decoded", p)
}
