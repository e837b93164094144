// Package files is the file store: files under meta-object namespaces
// (vis.0/main/vis-views.json) with acl, mime type and atomic writes.
package files

import "github.com/brokerd/brokerd/acl"

// Meta describes one stored file.
type Meta struct {
	ACL        acl.File `json:"acl"`
	MimeType   string   `json:"mimeType"`
	Binary     bool     `json:"binary"`
	Size       int64    `json:"size"`
	ModifiedAt int64    `json:"modifiedAt"`
	CreatedAt  int64    `json:"createdAt"`
	// Virtual marks the hidden directory marker written by Mkdir.
	Virtual bool `json:"virtualFile,omitempty"`
}

// Entry is one readDir / chmod / chown result row (protocol.md 9).
type Entry struct {
	File       string
	Path       string // directory of the entry, for chmod/chown results
	IsDir      bool
	Size       int64
	ACL        *acl.File // nil for directories
	Read       bool      // evaluated for the caller
	Write      bool
	MimeType   string
	ModifiedAt int64
	CreatedAt  int64
}

// Change is published for every committed file write or delete, in commit order.
type Change struct {
	Namespace string
	Path      string
	Size      int64
	Deleted   bool
}

// WriteOptions for Write.
type WriteOptions struct {
	Mode     int    // permissions for a new file; 0 = default
	MimeType string // overrides detection when set
}

// Store is the file store contract. Every call takes the caller (nil = internal
// admin) and checks the file ACL of datamodel.md 4.8 itself; group-level
// permissions are checked by the command gate before.
type Store interface {
	Read(ns, name string, s *acl.Subject) ([]byte, *Meta, error)
	// Write stores data; text tells whether the client sent a string (mime
	// detection for unknown extensions, datamodel.md 7.4).
	Write(ns, name string, data []byte, text bool, o WriteOptions, s *acl.Subject) error
	Exists(ns, name string, s *acl.Subject) (bool, error)
	// ReadDir lists one level; ns "" lists namespaces that hold files.
	ReadDir(ns, dir string, s *acl.Subject) ([]Entry, error)
	Mkdir(ns, dir string, s *acl.Subject) error
	// Unlink deletes a file or a folder recursively.
	Unlink(ns, name string, s *acl.Subject) error
	// DeleteFile deletes exactly one file.
	DeleteFile(ns, name string, s *acl.Subject) error
	// Rename moves a file or folder; a missing source is not an error.
	Rename(ns, oldName, newName string, s *acl.Subject) error
	// RenameFile moves one file; a missing source is "Not exists".
	RenameFile(ns, oldName, newName string, s *acl.Subject) error
	Chmod(ns, name string, mode int, s *acl.Subject) ([]Entry, error)
	Chown(ns, name, owner, ownerGroup string, s *acl.Subject) ([]Entry, error)
	// Watch registers fn for every committed write or delete, in commit order.
	Watch(fn func(Change))
}
