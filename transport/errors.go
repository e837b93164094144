package transport

import (
	"errors"
	"fmt"
)

// Error strings sent to clients (protocol.md 6). Clients compare some of them
// literally (conn.js: "permissionError", "Invalid password or user name").
const (
	errPermission    = "permissionError"
	errNotExists     = "Not exists"
	errDeprecated    = "This function is deprecated"
	errNoData        = "No data provided"
	errNoOptions     = "no options"
	errDBClosed      = "DB closed"
	errNoSession     = "No session"
	errNoAccessToken = "No access token found"
	errInvalidLogin  = "Invalid password or user name"
)

// ErrPermission is what Authorizer-independent checks (object, state ACL)
// return; it is sent as "permissionError".
var ErrPermission = errors.New(errPermission)

// argError is a malformed call: unknown command, missing or mistyped argument.
type argError struct{ msg string }

func (e *argError) Error() string { return e.msg }

func errUnknownCommand(name string) error {
	return &argError{fmt.Sprintf("Unknown command %q", name)}
}

func errMissingArg(cmd string, p Param, sig string) error {
	return &argError{fmt.Sprintf("Parameter %q is missing: %s expects (%s)", p.Name, cmd, sig)}
}

// errArgType uses the js-controller wording (protocol.md 6).
func errArgType(p Param, got any) error {
	return &argError{fmt.Sprintf("Parameter %q needs to be %s but type %q has been passed", p.Name, p.Kind.expect(), jsType(got))}
}

// errText turns an error into the string sent as first ack argument.
func errText(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

// jsType names v the way JavaScript's typeof would for decoded JSON.
func jsType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64, int, int64:
		return "number"
	case bool:
		return "boolean"
	case []byte:
		return "Buffer"
	case []any:
		return "array"
	default:
		return "object"
	}
}
