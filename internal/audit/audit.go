// Package audit owns the audit log: one entry for every state change and
// every refused action, written in the same transaction as the change it
// records ("no audit, no action"). Entries are only ever appended; nothing in
// this package or elsewhere updates or deletes them, and the database's own
// triggers refuse it. Listing and filtering live here too. It never decides
// whether an action is allowed: callers do, and tell the log what happened.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/store"
)

// Outcome is how an action ended.
type Outcome string

const (
	OK      Outcome = "ok"
	Refused Outcome = "refused" // the platform said no: bad input, not allowed, conflict
	Failed  Outcome = "failed"  // the platform could not do it: an internal error
)

// Actor is who acted. UserID and OrgID are zero for the system itself and
// for anonymous callers.
type Actor struct {
	UserID int64  `json:"user_id,omitempty"`
	Login  string `json:"login"`
	OrgID  int64  `json:"org_id,omitempty"`
}

// System is the platform acting on its own (migrations, demo seeding, clocks).
var System = Actor{Login: "system"}

// Anonymous is a caller without an account (the public, a failed login).
func Anonymous(login string) Actor {
	if login == "" {
		login = "anonymous"
	}
	return Actor{Login: login}
}

// Entry is one line of the log.
type Entry struct {
	ID         int64          `json:"id"`
	At         time.Time      `json:"at"`
	Actor      Actor          `json:"actor"`
	Action     string         `json:"action"`
	ObjectType string         `json:"object_type"`
	ObjectID   string         `json:"object_id"`
	Outcome    Outcome        `json:"outcome"`
	Reason     string         `json:"reason,omitempty"`
	Details    map[string]any `json:"details,omitempty"`
	RequestID  string         `json:"request_id,omitempty"`
	RemoteAddr string         `json:"remote_addr,omitempty"`
}

// Set records one detail, creating the map on first use.
func (e *Entry) Set(key string, value any) {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	e.Details[key] = value
}

// Log writes and reads audit entries.
type Log struct {
	db  *store.DB
	now func() time.Time
	// wake tells the tree integrator that entries were committed.
	wake chan struct{}
	// sealed holds the integrity alarm that stops all writes until an
	// administrator acknowledges it (nil while the log is sound).
	sealed atomic.Pointer[Alarm]
	group  groupCommit
	stmts  stmtCache
}

// New returns the log over db; now is the clock entries are stamped with.
func New(db *store.DB, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{db: db, now: now, wake: make(chan struct{}, 1)}
}

type requestKey struct{}

type requestInfo struct{ id, remote string }

// WithRequest attaches the request ID and remote address that entries
// written under ctx will carry.
func WithRequest(ctx context.Context, requestID, remoteAddr string) context.Context {
	return context.WithValue(ctx, requestKey{}, requestInfo{requestID, remoteAddr})
}

// Append writes e inside tx, the transaction of the change it records, and
// returns its ID. The time, request ID and remote address are filled in
// when empty.
func (l *Log) Append(ctx context.Context, tx *store.Tx, e Entry) (int64, error) {
	args, err := l.row(ctx, &e)
	if err != nil {
		return 0, err
	}
	if err := orderLock(ctx, tx); err != nil {
		return 0, err
	}
	id, err := tx.InsertID(ctx, insertEntries+entryPlaceholders, args...)
	if err != nil {
		return 0, fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	return id, nil
}

const (
	insertEntries = `INSERT INTO audit_entries (at, actor_user_id, actor_login, actor_org_id, action, object_type,
		object_id, outcome, reason, details, request_id, remote_addr) VALUES `
	entryPlaceholders = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	entryColumnCount  = 12
)

// row validates e, fills in what the request context knows, and returns
// the column values to insert.
func (l *Log) row(ctx context.Context, e *Entry) ([]any, error) {
	if err := l.validate(e); err != nil {
		return nil, err
	}
	if ri, ok := ctx.Value(requestKey{}).(requestInfo); ok {
		if e.RequestID == "" {
			e.RequestID = ri.id
		}
		if e.RemoteAddr == "" {
			e.RemoteAddr = ri.remote
		}
	}
	details := []byte("{}")
	if len(e.Details) > 0 {
		var err error
		if details, err = json.Marshal(e.Details); err != nil {
			return nil, fmt.Errorf("audit: details of %s: %w", e.Action, err)
		}
	}
	return []any{e.At, nullID(e.Actor.UserID), e.Actor.Login, nullID(e.Actor.OrgID),
		e.Action, e.ObjectType, e.ObjectID, string(e.Outcome), e.Reason, string(details), e.RequestID, e.RemoteAddr}, nil
}

// orderLock makes entry IDs follow commit order on PostgreSQL, so the tree
// integrates entries in the order they became visible: taken just before
// the insert and held to commit, it serializes only the tails of writing
// transactions. (SQLite serializes writers anyway.)
func orderLock(ctx context.Context, tx *store.Tx) error {
	if tx.Dialect() != store.Postgres {
		return nil
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(7261003)"); err != nil {
		return fmt.Errorf("audit: order lock: %w", err)
	}
	return nil
}

// validate checks an entry can be written and fills in its time.
func (l *Log) validate(e *Entry) error {
	if e.Action == "" || e.ObjectType == "" || e.Outcome == "" {
		return errors.New("audit: entry needs an action, an object type and an outcome")
	}
	if e.Actor.Login == "" {
		return errors.New("audit: entry needs an actor")
	}
	if a := l.sealed.Load(); a != nil && !allowedWhileSealed[e.Action] {
		return apperr.New(apperr.Unavailable, "audit.sealed", "entry", strconv.FormatInt(a.EntryID, 10))
	}
	if e.At.IsZero() {
		e.At = l.now()
	}
	e.At = storedTime(e.At)
	return nil
}

// Do runs fn in a transaction and records e with it: on success e is
// appended as OK in the same transaction; when fn fails, the transaction is
// rolled back and e is appended on its own as Refused (for an *apperr.Error
// other than Internal) or Failed, with the reason. fn may fill in e's object
// ID and details as it learns them. Do returns fn's error.
func (l *Log) Do(ctx context.Context, e Entry, fn func(tx *store.Tx, e *Entry) error) error {
	err := l.db.InTx(ctx, func(tx *store.Tx) error {
		if err := fn(tx, &e); err != nil {
			return err
		}
		e.Outcome = OK
		_, err := l.Append(ctx, tx, e)
		return err
	})
	if err == nil {
		l.notify()
		return nil
	}
	return l.Refuse(ctx, e, err)
}

// Refuse records that the action in e did not happen because of cause, in
// a transaction of its own, and returns cause (joined with any failure to
// write the entry). Use it for refusals decided before any transaction.
func (l *Log) Refuse(ctx context.Context, e Entry, cause error) error {
	e.Outcome = Failed
	e.Reason = "internal"
	if ae, ok := apperr.As(cause); ok && ae.Code != apperr.Internal {
		e.Outcome = Refused
		e.Reason = ae.Key
		for k, v := range ae.Args {
			e.Set("arg."+k, v)
		}
		if ae.Field != "" {
			e.Set("field", ae.Field)
		}
	} else {
		e.Set("error", cause.Error())
	}
	// The refusal is written even when the caller's context was cancelled:
	// a refused action must leave its trace.
	if werr := l.Record(context.WithoutCancel(ctx), e); werr != nil {
		return errors.Join(cause, werr)
	}
	return cause
}

// notify wakes the integrator without ever blocking a writer.
func (l *Log) notify() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
