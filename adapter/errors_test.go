package adapter

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestAckError(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{``, ""},
		{`null`, ""},
		{`false`, ""},
		{`""`, ""},
		{`"permissionError"`, "permissionError"},
		{`"The id is empty! Please provide a valid id."`, "The id is empty! Please provide a valid id."},
		{`{"message":"DB closed"}`, "DB closed"},
		{`{"error":"instance hue.0 is not connected"}`, "instance hue.0 is not connected"},
		{`{}`, "{}"},
		{`42`, "42"},
	} {
		err := ackError("setState", json.RawMessage(tc.arg))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("ackError(%s) = %q, want %q", tc.arg, got, tc.want)
		}
	}
	err := ackError("setState", json.RawMessage(`"permissionError"`))
	if !errors.Is(err, ErrPermission) {
		t.Error("permissionError is not ErrPermission")
	}
	var se *ServerError
	if !errors.As(err, &se) || se.Command != "setState" {
		t.Errorf("ServerError %+v", se)
	}
	if errors.Is(ackError("x", json.RawMessage(`"Not exists"`)), ErrPermission) {
		t.Error("Not exists is ErrPermission")
	}
}
