package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

// Password hash parameters (datamodel.md 5).
const (
	hashScheme     = "pbkdf2"
	hashIterations = 10000
	hashKeyLen     = 256
	// maxIterations refuses absurd stored counts that would pin a CPU.
	maxIterations = 10_000_000
)

// Errors of CheckPassword with the reference texts.
var (
	ErrHashFormat  = errors.New("Hash not formatted correctly")
	ErrHashUnknown = errors.New("Unknown")
)

// HashPassword returns `pbkdf2$10000$<512 hex>$<32 hex salt>`. The salt is
// 16 random bytes as lowercase hex, and the hex text itself is the PBKDF2
// salt input (not its decoded bytes), as the reference does.
func HashPassword(pw string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hashWith(pw, hex.EncodeToString(b), newHashIterations)
}

// newHashIterations is the count for new hashes; tests lower it to keep the
// -race run fast (stored counts are always honoured when checking).
var newHashIterations = hashIterations

func hashWith(pw, salt string, iter int) (string, error) {
	key, err := pbkdf2.Key(sha256.New, pw, []byte(salt), iter, hashKeyLen)
	if err != nil {
		return "", err
	}
	return hashScheme + "$" + strconv.Itoa(iter) + "$" + hex.EncodeToString(key) + "$" + salt, nil
}

// CheckPassword reports whether pw matches the stored hash, honouring the
// stored iteration count. An empty hash never matches (no error).
func CheckPassword(hash, pw string) (bool, error) {
	if hash == "" {
		return false, nil
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[2] == "" || parts[3] == "" {
		return false, ErrHashFormat
	}
	if parts[0] != hashScheme {
		return false, ErrHashUnknown
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter <= 0 || iter > maxIterations {
		return false, ErrHashFormat
	}
	got, err := hashWith(pw, parts[3], iter)
	if err != nil {
		return false, ErrHashFormat
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1, nil
}

// dummyHash is checked against when the user does not exist so that an
// unknown name costs the same time as a wrong password.
func dummyHash() string {
	return hashScheme + "$" + strconv.Itoa(newHashIterations) + "$00$0123456789abcdef0123456789abcdef"
}
