package auth

import (
	"strings"
	"unicode"

	"github.com/brokerd/brokerd/acl"
)

// idAllowed is the ASCII part of the object-id whitelist (datamodel.md 1.3).
const idAllowed = "._-/ :!#$%&()+=@^{}|~"

func idRuneAllowed(r rune) bool {
	if r < 0x80 && strings.ContainsRune(idAllowed, r) {
		return true
	}
	return unicode.Is(unicode.Ll, r) || unicode.Is(unicode.Lu, r) || unicode.Is(unicode.Nd, r)
}

// normaliseName maps a user or group name to the last id segment: runs of
// forbidden characters → one "_", then each whitespace and "." → "_",
// lower-cased (datamodel.md 1.3).
func normaliseName(name string) string {
	var b strings.Builder
	inRun := false
	for _, r := range name {
		if !idRuneAllowed(r) {
			if !inRun {
				b.WriteByte('_')
			}
			inRun = true
			continue
		}
		inRun = false
		if r == '.' || unicode.IsSpace(r) {
			b.WriteByte('_')
			continue
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}

// UserID maps a user name to its id without looking at existing users:
// "admin" → system.user.admin, a full id is kept, anything else is
// normalised (datamodel.md 1.3).
func UserID(name string) string {
	if strings.HasPrefix(name, acl.UserPrefix) {
		return name
	}
	if name == "admin" {
		return acl.Admin
	}
	return acl.UserPrefix + normaliseName(name)
}

// GroupID maps a group name ("user", "My Group") or full id to its id.
func GroupID(name string) string {
	if strings.HasPrefix(name, acl.GroupPrefix) {
		return name
	}
	return acl.GroupPrefix + normaliseName(name)
}

// UserName strips the system.user. prefix (what authEnabled reports).
func UserName(id string) string { return strings.TrimPrefix(id, acl.UserPrefix) }

// validAccountName applies the admin adapter's name check
// /^[-.A-Za-züäößÖÄÜа-яА-Я@+$§0-9=?!&# ]+$/ (groups also allow "_").
func validAccountName(name string, group bool) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r >= 'а' && r <= 'я', r >= 'А' && r <= 'Я':
		case strings.ContainsRune("-.@+$§=?!&# üäößÖÄÜ", r):
		case group && r == '_':
		default:
			return false
		}
	}
	return true
}
