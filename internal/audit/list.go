package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
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
// the lookup index (postings.go) when it is integrated.
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

// List returns the entries matching f, newest first. A filter with a
// lookup key reads the IDs filed under it in the index and scans only the
// short tail of entries the integrator has not reached yet.
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
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		limit = 1000
	}
	before := f.BeforeID
	if before <= 0 {
		before = math.MaxInt64
	}
	cond := ""
	if len(where) > 0 {
		cond = " AND " + strings.Join(where, " AND ")
	}
	key := f.lookupKey()
	if key == "" {
		return l.query(ctx, "e.id < ?"+cond, append([]any{before}, args...), limit)
	}
	// The index covers exactly the integrated entries (it is written with
	// their leaves): the tail above the watermark is scanned, the rest
	// looked up. Both are immutable, so reading them at different moments
	// is consistent as long as both use this one watermark.
	var mark int64
	if err := l.db.QueryRow(ctx, "SELECT COALESCE(MAX(entry_id), 0) FROM audit_leaves").Scan(&mark); err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	out, err := l.query(ctx, "e.id > ? AND e.id < ?"+cond, append([]any{mark, before}, args...), limit)
	if err != nil || len(out) >= limit {
		return out, err
	}
	err = l.postingIDs(ctx, key, min(before, mark+1), func(ids []int64) (bool, error) {
		for len(ids) > 0 && len(out) < limit {
			part := ids[:min(len(ids), 500)]
			ids = ids[len(part):]
			in := strings.TrimSuffix(strings.Repeat("?, ", len(part)), ", ")
			qargs := make([]any, 0, len(part)+len(args))
			for _, id := range part {
				qargs = append(qargs, id)
			}
			found, err := l.query(ctx, "e.id IN ("+in+")"+cond, append(qargs, args...), limit-len(out))
			if err != nil {
				return false, err
			}
			out = append(out, found...)
		}
		return len(out) < limit, nil
	})
	return out, err
}

// query reads at most limit entries matching where, newest first.
func (l *Log) query(ctx context.Context, where string, args []any, limit int) ([]Entry, error) {
	cols := "e." + strings.ReplaceAll(listColumns, ", ", ", e.")
	rows, err := l.db.Query(ctx, "SELECT "+cols+" FROM audit_entries e WHERE "+where+" ORDER BY e.id DESC LIMIT "+strconv.Itoa(limit), args...)
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
