package objects

import "errors"

// Error values with the exact strings the protocol sends to clients
// (datamodel.md 4.11). Callers compare with errors.Is / errors.As.
var (
	ErrPermission     = errors.New("permissionError")
	ErrNotDeletable   = errors.New("not deletable")
	ErrEmptyID        = errors.New("The id is empty! Please provide a valid id.")
	ErrNullObject     = errors.New("null object")
	ErrNoObject       = errors.New("no object")
	ErrTypeMissing    = errors.New("mandatory property type missing!")
	ErrInvalidAliasID = errors.New("Invalid alias ID")
	ErrAliasOnAlias   = errors.New("Cannot make alias on alias")
	ErrNonEdit        = errors.New("Invalid password for update of vendor information")
)

// IDError reports an id that may not be stored. Msg is the full client text,
// e.g. `Invalid ID: a*b`.
type IDError struct {
	ID  string
	Msg string
}

func (e *IDError) Error() string { return e.Msg }

// ValidationError reports a malformed object property; Field names it
// ("type", "common", "common.type", "common.members", "acl.owner" …).
type ValidationError struct {
	Field string
	Msg   string
}

func (e *ValidationError) Error() string { return e.Msg }

// ViewError is `Cannot find view "<design>"` or
// `Cannot find search "<search>" in "<design>"`.
type ViewError struct{ Msg string }

func (e *ViewError) Error() string { return e.Msg }
