package files

import (
	"errors"
	"fmt"
)

// Errors with the exact strings of protocol.md 6 / datamodel.md 4.11. Compare
// with errors.Is; the message is what reaches socket clients.
var (
	// ErrNotExists: missing file, empty or "/" name, or a name that can never
	// exist (hostile encodings, reserved marker names on read).
	ErrNotExists = errors.New("Not exists")
	// ErrPermission: the file ACL (datamodel.md 4.8) refuses the operation.
	ErrPermission = errors.New("permissionError")
	// ErrEmptyID: the namespace is empty after sanitising (datamodel.md 7.2 step 4).
	ErrEmptyID = errors.New("Empty ID")
	// ErrInvalidParameter: chmod mode out of range, rename into itself, bad owner.
	ErrInvalidParameter = errors.New("invalid parameter")
	// ErrNotMeta is matched by every *NotMetaError.
	ErrNotMeta = errors.New(`is not an object of type "meta"`)
	// ErrTooLarge is wrapped by writes above MaxFileSize.
	ErrTooLarge = errors.New("file too large")
)

// NotMetaError reports a namespace that is not an object of type "meta".
type NotMetaError struct{ Namespace string }

func (e *NotMetaError) Error() string {
	return e.Namespace + ` is not an object of type "meta"`
}

// Is makes errors.Is(err, ErrNotMeta) true.
func (e *NotMetaError) Is(target error) bool { return target == ErrNotMeta }

// NoGroupError is chown without ownerGroup for an owner that has no group.
type NoGroupError struct{ Owner string }

func (e *NoGroupError) Error() string { return `user "` + e.Owner + `" belongs to no group` }

func tooLarge(n int) error {
	return fmt.Errorf("%w: %d bytes exceeds the limit of %d bytes", ErrTooLarge, n, MaxFileSize)
}
