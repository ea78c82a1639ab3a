package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Filter selects entries. Zero fields do not filter.
type Filter struct {
	ActorUserID int64
	// OrgID matches entries whose actor belongs to the organisation.
	OrgID      int64
	Action     string
	ObjectType string
	ObjectID   string
	Outcome    Outcome
	From, To   time.Time // From inclusive, To exclusive
	// BeforeID pages backwards: only entries with a smaller ID.
	BeforeID int64
	// Limit caps the number of entries (default 100, at most 1000).
	Limit int
}

// List returns the entries matching f, newest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.ActorUserID != 0 {
		add("actor_user_id = ?", f.ActorUserID)
	}
	if f.OrgID != 0 {
		add("actor_org_id = ?", f.OrgID)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.ObjectType != "" {
		add("object_type = ?", f.ObjectType)
	}
	if f.ObjectID != "" {
		add("object_id = ?", f.ObjectID)
	}
	if f.Outcome != "" {
		add("outcome = ?", string(f.Outcome))
	}
	if !f.From.IsZero() {
		add("at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		add("at < ?", f.To.UTC())
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		limit = 1000
	}
	q := `SELECT id, at, actor_user_id, actor_login, actor_org_id, action, object_type, object_id,
		outcome, reason, details, request_id, remote_addr FROM audit_entries`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := l.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var uid, oid sql.NullInt64
		var outcome, details string
		if err := rows.Scan(&e.ID, &e.At, &uid, &e.Actor.Login, &oid, &e.Action, &e.ObjectType, &e.ObjectID,
			&outcome, &e.Reason, &details, &e.RequestID, &e.RemoteAddr); err != nil {
			return nil, fmt.Errorf("audit: list: %w", err)
		}
		e.At = e.At.UTC()
		e.Actor.UserID, e.Actor.OrgID = uid.Int64, oid.Int64
		e.Outcome = Outcome(outcome)
		if details != "" && details != "{}" {
			if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
				return nil, fmt.Errorf("audit: entry %d details: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Count returns the number of entries, for the console and /metrics.
func (l *Log) Count(ctx context.Context) (int64, error) {
	var n int64
	err := l.db.QueryRow(ctx, "SELECT COUNT(*) FROM audit_entries").Scan(&n)
	return n, err
}
