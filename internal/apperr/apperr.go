// Package apperr is the one error type that crosses package boundaries: a
// code callers branch on (invalid, not found, forbidden, …), a message key in
// the i18n catalogs with its arguments, and the operation that failed. The web
// layer maps the code to an HTTP status and the key to the user's language;
// internal errors are logged and shown as a plain message with a request ID.
package apperr

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Code classifies an error for callers and for HTTP.
type Code string

const (
	Invalid         Code = "invalid"
	NotFound        Code = "not_found"
	Unauthenticated Code = "unauthenticated"
	Forbidden       Code = "forbidden"
	Conflict        Code = "conflict"
	Locked          Code = "locked"
	Unavailable     Code = "unavailable"
	Internal        Code = "internal"
)

// Error is an error a person can be told about.
type Error struct {
	Code Code
	// Key names the message in the catalogs (internal/i18n); Args fill its
	// {placeholders}.
	Key  string
	Args map[string]string
	// Field names the input that was wrong, when there is one.
	Field string
	// Op is the operation, for logs.
	Op  string
	Err error
}

// New returns an error with a code and a message key; args are pairs of
// placeholder name and value.
func New(code Code, key string, args ...string) *Error {
	e := &Error{Code: code, Key: key}
	if len(args) > 0 {
		e.Args = make(map[string]string, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			e.Args[args[i]] = args[i+1]
		}
	}
	return e
}

// OnField returns the error marked as about one input field.
func (e *Error) OnField(field string) *Error { e.Field = field; return e }

// Wrap records the underlying cause.
func (e *Error) Wrap(err error) *Error { e.Err = err; return e }

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(string(e.Code))
	b.WriteString(": ")
	b.WriteString(e.Key)
	if len(e.Args) > 0 {
		keys := make([]string, 0, len(e.Args))
		for k := range e.Args {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%q", k, e.Args[k])
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// As finds the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// CodeOf reports err's code: Internal for errors that are not *Error, and
// "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	if e, ok := As(err); ok {
		return e.Code
	}
	return Internal
}

// IsCode reports whether err carries code c.
func IsCode(err error, c Code) bool { return CodeOf(err) == c }

// WithOp sets the operation on err when it is an *Error without one, and
// wraps any other error with the operation as context.
func WithOp(op string, err error) error {
	if err == nil {
		return nil
	}
	if e, ok := As(err); ok {
		if e.Op == "" {
			e.Op = op
		}
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}
