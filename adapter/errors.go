package adapter

import (
	"encoding/json"
	"errors"
	"strings"
)

var (
	// ErrClosed is returned by calls on an adapter after Close.
	ErrClosed = errors.New("adapter: closed")
	// ErrPermission matches (errors.Is) a server refusal "permissionError".
	ErrPermission = errors.New("permissionError")
)

// ServerError is an error the broker returned in the first position of a
// command's acknowledgement (or as {error} of a sendTo reply). Error returns
// the server's text unchanged.
type ServerError struct {
	Command string // the command that failed, e.g. "setState"
	Text    string
}

func (e *ServerError) Error() string { return e.Text }

// Is makes errors.Is(err, ErrPermission) true for "permissionError".
func (e *ServerError) Is(target error) bool {
	return target == ErrPermission && e.Text == "permissionError"
}

// ackError converts the first ack argument into an error: nil for a missing
// argument, null, false or "", the text of a string, the message of an
// Error-like object, otherwise the raw JSON.
func ackError(cmd string, arg json.RawMessage) error {
	s := strings.TrimSpace(string(arg))
	switch s {
	case "", "null", "false", `""`:
		return nil
	}
	var text string
	if json.Unmarshal(arg, &text) == nil {
		return &ServerError{Command: cmd, Text: text}
	}
	var obj struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(arg, &obj) == nil {
		if obj.Message != "" {
			return &ServerError{Command: cmd, Text: obj.Message}
		}
		if obj.Error != "" {
			return &ServerError{Command: cmd, Text: obj.Error}
		}
	}
	return &ServerError{Command: cmd, Text: s}
}
