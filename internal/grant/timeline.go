package grant

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
)

// Event is one step on a plan's, selection's or agreement's timeline:
// what was done, by whom, when, and the audit entry that proves it.
type Event struct {
	ID         int64       `json:"id"`
	ObjectType string      `json:"object_type"` // plan, selection, agreement
	ObjectID   int64       `json:"object_id"`
	Step       string      `json:"step"`
	From       string      `json:"from"`
	To         string      `json:"to"`
	Actor      audit.Actor `json:"actor"`
	At         time.Time   `json:"at"`
	AuditID    int64       `json:"audit_id"`
	Note       string      `json:"note,omitempty"`
}

// Timeline lists an object's steps, oldest first, to those who may read
// the object.
func (s *Service) Timeline(ctx context.Context, p identity.Principal, objectType string, id int64) ([]Event, error) {
	var err error
	switch objectType {
	case "plan":
		_, err = s.Plan(ctx, p, id)
	case "selection":
		_, err = s.Selection(ctx, p, id)
	case "agreement":
		_, err = s.Agreement(ctx, p, id)
	default:
		err = apperr.New(apperr.Invalid, "grant.object_unknown", "object", objectType)
	}
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT id, object_type, object_id, step, from_state, to_state, actor_user_id, actor_login,
		actor_org_id, at, audit_id, note FROM grant_events WHERE object_type = ? AND object_id = ? ORDER BY id`, objectType, id)
	if err != nil {
		return nil, fmt.Errorf("timeline of %s %d: %w", objectType, id, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var ev Event
		var user, org sql.NullInt64
		if err := rows.Scan(&ev.ID, &ev.ObjectType, &ev.ObjectID, &ev.Step, &ev.From, &ev.To, &user, &ev.Actor.Login,
			&org, &ev.At, &ev.AuditID, &ev.Note); err != nil {
			return nil, fmt.Errorf("timeline of %s %d: %w", objectType, id, err)
		}
		ev.Actor.UserID, ev.Actor.OrgID, ev.At = user.Int64, org.Int64, ev.At.UTC()
		out = append(out, ev)
	}
	return out, rows.Err()
}
