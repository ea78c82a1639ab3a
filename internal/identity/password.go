package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/gongshu/gongshu/internal/apperr"
)

// Argon2Params is the cost of argon2id password hashing.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultArgon2 follows the OWASP password storage recommendation for
// argon2id (19 MiB, 2 passes, 1 lane).
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const (
	minPasswordLen = 12
	maxPasswordLen = 128
)

// hashPassword returns the PHC string $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func hashPassword(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// checkPassword compares pw with a PHC hash in constant time; the cost is
// read from the hash so old hashes keep working after the default changes.
func checkPassword(pw, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("password hash: not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, fmt.Errorf("password hash: unsupported version %q", parts[2])
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false, fmt.Errorf("password hash: parameters %q: %w", parts[3], err)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("password hash: salt: %w", err)
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return false, fmt.Errorf("password hash: key: %w", err)
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// commonPasswords are refused outright even when they meet the length and
// class rules, because they head every leaked-password list.
var commonPasswords = map[string]bool{
	"password1234": true, "password@123": true, "passw0rd1234": true, "p@ssw0rd1234": true,
	"admin@123456": true, "admin1234567": true, "qwerty123456": true, "1qaz2wsx3edc": true,
	"1qaz@wsx3edc": true, "abc123456789": true, "a12345678910": true, "woaini123456": true,
	"zaq12wsxcde3": true, "changeme1234": true, "welcome@2025": true, "welcome@2026": true,
}

// CheckPasswordStrength refuses passwords a person should not be allowed to
// choose, saying what to fix: at least 12 characters (at most 128), three of
// the four kinds (lower case, upper case, digits, symbols), not the login,
// not a well-known password.
func CheckPasswordStrength(pw, login string) error {
	n := utf8.RuneCountInString(pw)
	if n < minPasswordLen {
		return apperr.New(apperr.Invalid, "identity.password_too_short", "min", itoa(minPasswordLen)).OnField("password")
	}
	if n > maxPasswordLen {
		return apperr.New(apperr.Invalid, "identity.password_too_long", "max", itoa(maxPasswordLen)).OnField("password")
	}
	var lower, upper, digit, other bool
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			other = true
		}
	}
	kinds := 0
	for _, b := range []bool{lower, upper, digit, other} {
		if b {
			kinds++
		}
	}
	if kinds < 3 {
		return apperr.New(apperr.Invalid, "identity.password_weak_kinds").OnField("password")
	}
	lp := strings.ToLower(pw)
	if login != "" && strings.Contains(lp, strings.ToLower(login)) {
		return apperr.New(apperr.Invalid, "identity.password_contains_login").OnField("password")
	}
	if commonPasswords[lp] {
		return apperr.New(apperr.Invalid, "identity.password_common").OnField("password")
	}
	return nil
}
