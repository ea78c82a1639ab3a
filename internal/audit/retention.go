package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/store"
)

// MinRetentionYears is the least time an operator's work log is kept after
// its agreement ends (R16.2). Settings may only go above it.
const MinRetentionYears = 3

const dateLayout = "2006-01-02"

// SetRetention records that an operator's agreement ended on the given
// day and that its entries are kept for years after (at least three). It
// never shortens a retention already set: the organisation keeps the
// latest date. It returns the organisation's retention date.
func (l *Log) SetRetention(ctx context.Context, actor Actor, orgID int64, agreementRef string, endedOn time.Time, years int) (time.Time, error) {
	e := Entry{Actor: actor, Action: "audit.retention.set", ObjectType: "organization", ObjectID: strconv.FormatInt(orgID, 10)}
	e.Set("agreement", agreementRef)
	e.Set("ended_on", endedOn.Format(dateLayout))
	e.Set("years", years)
	if years < MinRetentionYears {
		return time.Time{}, l.Refuse(ctx, e, apperr.New(apperr.Invalid, "audit.retention_too_short",
			"min", strconv.Itoa(MinRetentionYears)).OnField("years"))
	}
	if agreementRef == "" || endedOn.IsZero() {
		return time.Time{}, l.Refuse(ctx, e, apperr.New(apperr.Invalid, "audit.retention_needs_agreement"))
	}
	until := time.Date(endedOn.Year()+years, endedOn.Month(), endedOn.Day(), 0, 0, 0, 0, time.UTC)
	var effective time.Time
	err := l.Do(ctx, e, func(tx *store.Tx, e *Entry) error {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_retention (org_id, agreement_ref, agreement_ended_on, retain_until, set_at, set_by)
			VALUES (?, ?, ?, ?, ?, ?)`, orgID, agreementRef, endedOn.Format(dateLayout), until.Format(dateLayout), storedTime(l.now()), actor.Login); err != nil {
			return err
		}
		var latest string
		if err := tx.QueryRow(ctx, "SELECT MAX(retain_until) FROM audit_retention WHERE org_id = ?", orgID).Scan(&latest); err != nil {
			return err
		}
		var err error
		effective, err = time.Parse(dateLayout, latest)
		e.Set("retain_until", latest)
		return err
	})
	return effective, err
}

// Retentions returns each organisation's retention date, for the console.
func (l *Log) Retentions(ctx context.Context) (map[int64]time.Time, error) {
	rows, err := l.db.Query(ctx, "SELECT org_id, MAX(retain_until) FROM audit_retention GROUP BY org_id")
	if err != nil {
		return nil, fmt.Errorf("audit: retentions: %w", err)
	}
	defer rows.Close()
	out := map[int64]time.Time{}
	for rows.Next() {
		var org int64
		var d sql.NullString
		if err := rows.Scan(&org, &d); err != nil {
			return nil, err
		}
		if t, err := time.Parse(dateLayout, d.String); err == nil {
			out[org] = t
		}
	}
	return out, rows.Err()
}
