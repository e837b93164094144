package sioclient

import (
	"encoding/json"
	"errors"
	"fmt"
)

// splitArray splits the JSON array b into its elements without copying them:
// the returned RawMessages alias b. It checks the JSON structure (brackets,
// strings, literals, separators) in one pass; decoding into []json.RawMessage
// scanned every frame twice and copied every argument, which dominated the
// cost of a busy subscriber.
func splitArray(b []byte) ([]json.RawMessage, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, errors.New("sioclient: packet data is not a JSON array")
	}
	out := make([]json.RawMessage, 0, 4)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return out, trailing(b, i+1)
	}
	for {
		start := i
		end, err := skipValue(b, i, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, json.RawMessage(b[start:end:end]))
		i = skipSpace(b, end)
		if i >= len(b) {
			return nil, errUnexpectedEnd
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return out, trailing(b, i+1)
		default:
			return nil, fmt.Errorf("sioclient: unexpected %q in packet data", b[i])
		}
	}
}

var errUnexpectedEnd = errors.New("sioclient: packet data ends early")

const maxJSONDepth = 10000

func trailing(b []byte, i int) error {
	if skipSpace(b, i) != len(b) {
		return errors.New("sioclient: data after the packet's JSON array")
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, errUnexpectedEnd
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		if depth >= maxJSONDepth {
			return 0, errors.New("sioclient: JSON nested too deeply")
		}
		return skipContainer(b, i, depth+1)
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
			j++
		}
		return j, nil
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
				return i + len(lit), nil
			}
		}
		return 0, fmt.Errorf("sioclient: unexpected %q in packet data", c)
	}
}

func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errUnexpectedEnd
}

// skipContainer skips an object or array whose opening bracket is at b[i].
func skipContainer(b []byte, i, depth int) (int, error) {
	obj := b[i] == '{'
	closer := byte(']')
	if obj {
		closer = '}'
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, nil
	}
	for {
		var err error
		if obj {
			if i >= len(b) || b[i] != '"' {
				return 0, errors.New("sioclient: object key is not a string")
			}
			if i, err = skipString(b, i); err != nil {
				return 0, err
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return 0, errors.New("sioclient: missing ':' in object")
			}
			i = skipSpace(b, i+1)
		}
		if i, err = skipValue(b, i, depth); err != nil {
			return 0, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, errUnexpectedEnd
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case closer:
			return i + 1, nil
		default:
			return 0, fmt.Errorf("sioclient: unexpected %q in packet data", b[i])
		}
	}
}
