package transport

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Server → client event names (protocol.md 4).
const (
	evStateChange     = "stateChange"
	evObjectChange    = "objectChange"
	evFileChange      = "fileChange"
	evPermissionError = "permissionError"
	evReauthenticate  = "reauthenticate"
	evTokenInfo       = "tokenInfo"
	evIM              = "im"
)

// frame is one encoded socket.io packet without the Engine.IO message prefix:
// the text part ("2[…]", "3<id>[…]", "61-<id>[…]") and its binary
// attachments. Frames are immutable once built, so one change event is
// encoded once and the same frame is queued to every subscriber.
type frame struct {
	text []byte
	bins [][]byte
}

func (f frame) size() int {
	n := len(f.text)
	for _, b := range f.bins {
		n += len(b)
	}
	return n
}

// encodeEvent builds a server event packet. Arguments are JSON-encoded;
// json.RawMessage arguments are inserted verbatim.
func encodeEvent(name string, args ...any) (frame, error) {
	return encodePacket('2', '5', nil, append([]any{name}, args...))
}

// encodeAck builds the acknowledgement packet for ack id with args.
func encodeAck(id uint64, args []any) (frame, error) {
	return encodePacket('3', '6', &id, args)
}

// encodePacket encodes a socket.io EVENT/ACK for namespace "/". []byte values
// (at any depth of []any / map[string]any) become binary attachments.
func encodePacket(textType, binType byte, id *uint64, args []any) (frame, error) {
	if preEncoded(args) {
		return encodeRaw(textType, id, args), nil
	}
	if args == nil {
		args = []any{}
	}
	var bins [][]byte
	data := extractBinary(args, &bins)
	var buf bytes.Buffer
	if len(bins) > 0 {
		buf.WriteByte(binType)
		buf.WriteString(strconv.Itoa(len(bins)))
		buf.WriteByte('-')
	} else {
		buf.WriteByte(textType)
	}
	if id != nil {
		buf.WriteString(strconv.FormatUint(*id, 10))
	}
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // like JSON.stringify
	if err := enc.Encode(data); err != nil {
		return frame{}, err
	}
	text := buf.Bytes()
	text = text[:len(text)-1] // Encoder appends a newline
	return frame{text: text, bins: bins}, nil
}

// placeholder marks a binary attachment inside the JSON part.
type placeholder struct {
	Placeholder bool `json:"_placeholder"`
	Num         int  `json:"num"`
}

func extractBinary(v any, bins *[][]byte) any {
	switch x := v.(type) {
	case []byte:
		*bins = append(*bins, x)
		return placeholder{Placeholder: true, Num: len(*bins) - 1}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = extractBinary(e, bins)
		}
		return out
	case map[string]any:
		if !hasBinary(x) {
			return x
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = extractBinary(e, bins)
		}
		return out
	default:
		return v
	}
}

func hasBinary(v any) bool {
	switch x := v.(type) {
	case []byte:
		return true
	case []any:
		for _, e := range x {
			if hasBinary(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasBinary(e) {
				return true
			}
		}
	}
	return false
}

// rawOrNull returns raw as a JSON value, or JSON null when raw is empty.
func rawOrNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// preEncoded reports whether every argument is nil or json.RawMessage. Such
// packets are assembled by copying: encoding/json would re-validate and
// compact every RawMessage (a 15 MB getStates answer costs more there than
// building it did).
func preEncoded(args []any) bool {
	for _, a := range args {
		if a == nil {
			continue
		}
		if _, ok := a.(json.RawMessage); !ok {
			return false
		}
	}
	return true
}

// encodeRaw builds a packet from pre-encoded arguments (see preEncoded);
// the RawMessages must be valid JSON, as everything the handlers build is.
func encodeRaw(textType byte, id *uint64, args []any) frame {
	n := 24
	for _, a := range args {
		r, _ := a.(json.RawMessage)
		n += len(r) + 5
	}
	text := make([]byte, 0, n)
	text = append(text, textType)
	if id != nil {
		text = strconv.AppendUint(text, *id, 10)
	}
	text = append(text, '[')
	for i, a := range args {
		if i > 0 {
			text = append(text, ',')
		}
		if r, _ := a.(json.RawMessage); len(r) > 0 {
			text = append(text, r...)
		} else {
			text = append(text, "null"...)
		}
	}
	return frame{text: append(text, ']')}
}
