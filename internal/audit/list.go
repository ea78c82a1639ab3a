package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
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

// lookupKeys are the keys under which an entry can be found, written to
// audit_entry_keys when it is integrated.
func lookupKeys(e Entry) []string {
	keys := []string{"act:" + e.Action}
	if e.Actor.OrgID != 0 {
		keys = append(keys, "org:"+strconv.FormatInt(e.Actor.OrgID, 10))
	}
	if e.Actor.UserID != 0 {
		keys = append(keys, "user:"+strconv.FormatInt(e.Actor.UserID, 10))
	}
	if e.ObjectID != "" {
		keys = append(keys, "obj:"+e.ObjectType+":"+e.ObjectID)
	}
	return keys
}

// lookupKey picks the most selective key a filter names, or "" (an
// object type alone has no key: its listing scans, newest first).
func (f Filter) lookupKey() string {
	switch {
	case f.ObjectType != "" && f.ObjectID != "":
		return "obj:" + f.ObjectType + ":" + f.ObjectID
	case f.ActorUserID != 0:
		return "user:" + strconv.FormatInt(f.ActorUserID, 10)
	case f.OrgID != 0:
		return "org:" + strconv.FormatInt(f.OrgID, 10)
	case f.Action != "":
		return "act:" + f.Action
	}
	return ""
}

const listColumns = `id, at, actor_user_id, actor_login, actor_org_id, action, object_type, object_id,
	outcome, reason, details, request_id, remote_addr`

// watermark is the last integrated entry, read inside the listing query
// itself so that the keyed part and the tail see the same instant.
const watermark = "(SELECT COALESCE(MAX(entry_id), 0) FROM audit_leaves)"

// List returns the entries matching f, newest first. Filtered listings
// read the lookup keys of integrated entries and scan only the short tail
// of entries the integrator has not reached yet.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.ActorUserID != 0 {
		add("e.actor_user_id = ?", f.ActorUserID)
	}
	if f.OrgID != 0 {
		add("e.actor_org_id = ?", f.OrgID)
	}
	if f.Action != "" {
		add("e.action = ?", f.Action)
	}
	if f.ObjectType != "" {
		add("e.object_type = ?", f.ObjectType)
	}
	if f.ObjectID != "" {
		add("e.object_id = ?", f.ObjectID)
	}
	if f.Outcome != "" {
		add("e.outcome = ?", string(f.Outcome))
	}
	if !f.From.IsZero() {
		add("e.at >= ?", storedTime(f.From))
	}
	if !f.To.IsZero() {
		add("e.at < ?", storedTime(f.To))
	}
	if f.BeforeID > 0 {
		add("e.id < ?", f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		limit = 1000
	}
	cond := ""
	if len(where) > 0 {
		cond = " AND " + strings.Join(where, " AND ")
	}
	cols := "e." + strings.ReplaceAll(listColumns, ", ", ", e.")
	var q string
	var qargs []any
	if key := f.lookupKey(); key != "" {
		q = "SELECT " + listColumns + " FROM (" +
			"SELECT " + cols + " FROM audit_entries e WHERE e.id > " + watermark + cond +
			" UNION ALL SELECT " + cols + " FROM audit_entry_keys k JOIN audit_entries e ON e.id = k.entry_id" +
			" WHERE k.key = ? AND k.entry_id <= " + watermark + cond +
			") AS found ORDER BY id DESC LIMIT " + strconv.Itoa(limit)
		qargs = append(append(append(qargs, args...), key), args...)
	} else {
		q = "SELECT " + cols + " FROM audit_entries e WHERE 1=1" + cond + " ORDER BY e.id DESC LIMIT " + strconv.Itoa(limit)
		qargs = args
	}
	rows, err := l.db.Query(ctx, q, qargs...)
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
