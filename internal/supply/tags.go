package supply

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/pii"
	"github.com/gongshu/gongshu/internal/store"
)

// ColumnTag is one row of a column's tag history: a detector's proposal
// (ConfirmedBy zero) or a person's confirmation with a reason.
type ColumnTag struct {
	ID               int64        `json:"id"`
	Column           string       `json:"column"`
	Tag              pii.Tag      `json:"tag"`
	Detector         string       `json:"detector,omitempty"`
	Confidence       float64      `json:"confidence,omitempty"`
	Evidence         pii.Evidence `json:"evidence"`
	ConfirmedBy      int64        `json:"confirmed_by,omitempty"`
	ConfirmedByLogin string       `json:"confirmed_by_login,omitempty"`
	ConfirmedAt      time.Time    `json:"confirmed_at,omitzero"`
	Reason           string       `json:"reason,omitempty"`
	RecordedAt       time.Time    `json:"recorded_at"`
}

// Confirmed reports whether a person confirmed this tag.
func (t ColumnTag) Confirmed() bool { return t.ConfirmedBy != 0 }

const tagColumns = `id, column_name, tag, detector, confidence, evidence, confirmed_by, confirmed_by_login,
	confirmed_at, reason, recorded_at`

func scanTag(sc func(...any) error) (ColumnTag, error) {
	var t ColumnTag
	var tag, evidence string
	var at sql.NullTime
	if err := sc(&t.ID, &t.Column, &tag, &t.Detector, &t.Confidence, &evidence, &t.ConfirmedBy,
		&t.ConfirmedByLogin, &at, &t.Reason, &t.RecordedAt); err != nil {
		return ColumnTag{}, err
	}
	t.Tag = pii.Tag(tag)
	if at.Valid {
		t.ConfirmedAt = at.Time.UTC()
	}
	t.RecordedAt = t.RecordedAt.UTC()
	if err := json.Unmarshal([]byte(evidence), &t.Evidence); err != nil {
		return ColumnTag{}, err
	}
	return t, nil
}

func (s *Service) queryTags(ctx context.Context, q string, args ...any) ([]ColumnTag, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("column tags: %w", err)
	}
	defer rows.Close()
	var out []ColumnTag
	for rows.Next() {
		t, err := scanTag(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Tags returns the current tag of each tagged column of a resource (the
// latest row of each column's history), by column name.
func (s *Service) Tags(ctx context.Context, resourceID int64) ([]ColumnTag, error) {
	return s.queryTags(ctx, "SELECT "+tagColumns+` FROM supply_column_tags t WHERE resource_id = ?
		AND id = (SELECT MAX(id) FROM supply_column_tags u WHERE u.resource_id = t.resource_id AND u.column_name = t.column_name)
		ORDER BY column_name`, resourceID)
}

// TagHistory returns every tag row of one column, oldest first.
func (s *Service) TagHistory(ctx context.Context, resourceID int64, column string) ([]ColumnTag, error) {
	return s.queryTags(ctx, "SELECT "+tagColumns+" FROM supply_column_tags WHERE resource_id = ? AND column_name = ? ORDER BY id",
		resourceID, column)
}

// recordProposals appends proposals for columns a person has not confirmed
// and whose current proposal differs; a confirmed tag is never overridden
// by a detector. It returns how many rows it appended.
func (s *Service) recordProposals(ctx context.Context, tx *store.Tx, resourceID int64, ps []pii.Proposal) (int, error) {
	current := map[string]ColumnTag{}
	rows, err := tx.Query(ctx, "SELECT "+tagColumns+` FROM supply_column_tags t WHERE resource_id = ?
		AND id = (SELECT MAX(id) FROM supply_column_tags u WHERE u.resource_id = t.resource_id AND u.column_name = t.column_name)`, resourceID)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		t, err := scanTag(rows.Scan)
		if err != nil {
			rows.Close()
			return 0, err
		}
		current[t.Column] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	now := s.clock()
	n := 0
	for _, p := range ps {
		if c, ok := current[p.Column]; ok && (c.Confirmed() || (c.Tag == p.Tag && c.Detector == p.Detector)) {
			continue
		}
		ev, err := json.Marshal(p.Evidence)
		if err != nil {
			return n, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO supply_column_tags (resource_id, column_name, tag, detector, confidence,
			evidence, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			resourceID, p.Column, string(p.Tag), p.Detector, p.Confidence, string(ev), now); err != nil {
			return n, fmt.Errorf("record proposal for %s: %w", p.Column, err)
		}
		n++
	}
	return n, nil
}

// ProposeTags runs the detectors on a sample of the resource's latest
// version and records their proposals for columns nobody has confirmed.
func (s *Service) ProposeTags(ctx context.Context, p identity.Principal, resourceID int64) ([]pii.Proposal, error) {
	if _, err := s.resource(ctx, p, ActionProposeTags, resourceID); err != nil {
		return nil, err
	}
	e := entry(p, ActionProposeTags, resourceID)
	v, err := s.Latest(ctx, resourceID)
	if err != nil {
		return nil, s.log.Refuse(ctx, e, err)
	}
	sample, err := s.eng.Sample(ctx, v.Table, SampleRows)
	if err != nil {
		return nil, s.log.Refuse(ctx, e, err)
	}
	ps := make([]pii.Proposal, 0, len(v.Columns))
	for _, c := range v.Columns {
		ps = append(ps, pii.Detect(c.Name, sample[c.Name]))
	}
	e.Set("version", v.Version)
	err = s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		n, err := s.recordProposals(ctx, tx, resourceID, ps)
		e.Set("proposed_tags", n)
		return err
	})
	return ps, err
}

// MaxReasonLength bounds a reason's length in characters.
const MaxReasonLength = 500

// ConfirmTag records a person's decision on a column's tag, with the
// reason; who and when are recorded, the history keeps every change.
func (s *Service) ConfirmTag(ctx context.Context, p identity.Principal, resourceID int64, column string, tag pii.Tag, reason string) error {
	if _, err := s.resource(ctx, p, ActionConfirmTag, resourceID); err != nil {
		return err
	}
	e := entry(p, ActionConfirmTag, resourceID)
	e.Set("column", column)
	e.Set("tag", string(tag))
	reason = strings.TrimSpace(reason)
	return s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		if !tag.Valid() {
			return apperr.New(apperr.Invalid, "supply.bad_tag", "tag", string(tag)).OnField("tag")
		}
		if reason == "" {
			return apperr.New(apperr.Invalid, "supply.reason_required").OnField("reason")
		}
		if len([]rune(reason)) > MaxReasonLength {
			return apperr.New(apperr.Invalid, "supply.reason_too_long", "max", fmt.Sprint(MaxReasonLength)).OnField("reason")
		}
		if err := s.checkColumn(ctx, resourceID, column); err != nil {
			return err
		}
		e.Set("reason", reason)
		now := s.clock()
		_, err := tx.Exec(ctx, `INSERT INTO supply_column_tags (resource_id, column_name, tag, detector, confirmed_by,
			confirmed_by_login, confirmed_at, reason, recorded_at) VALUES (?, ?, ?, 'person', ?, ?, ?, ?, ?)`,
			resourceID, column, string(tag), p.UserID, p.Login, now, reason, now)
		return err
	})
}

// checkColumn refuses a column the latest version does not have.
func (s *Service) checkColumn(ctx context.Context, resourceID int64, column string) error {
	v, err := s.Latest(ctx, resourceID)
	if err != nil {
		return err
	}
	for _, c := range v.Columns {
		if c.Name == column {
			return nil
		}
	}
	return apperr.New(apperr.Invalid, "supply.unknown_column", "column", column).OnField("column")
}

// SetPrivacyUnit names the column that identifies the privacy unit of the
// resource (the person or enterprise a row is about), which aggregation
// thresholds and contribution bounds count. Every change is kept.
func (s *Service) SetPrivacyUnit(ctx context.Context, p identity.Principal, resourceID int64, column, reason string) error {
	if _, err := s.resource(ctx, p, ActionSetPrivacyUnit, resourceID); err != nil {
		return err
	}
	e := entry(p, ActionSetPrivacyUnit, resourceID)
	e.Set("column", column)
	return s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		if err := s.checkColumn(ctx, resourceID, column); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO supply_privacy_units (resource_id, column_name, set_by, set_by_login, set_at, reason)
			VALUES (?, ?, ?, ?, ?, ?)`, resourceID, column, p.UserID, p.Login, s.clock(), strings.TrimSpace(reason))
		return err
	})
}

// PrivacyUnit returns the resource's privacy unit column, "" when unset.
func (s *Service) PrivacyUnit(ctx context.Context, resourceID int64) (string, error) {
	var col string
	err := s.db.QueryRow(ctx, "SELECT column_name FROM supply_privacy_units WHERE resource_id = ? ORDER BY id DESC LIMIT 1", resourceID).Scan(&col)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("privacy unit of resource %d: %w", resourceID, err)
	}
	return col, nil
}

// Role is a column's default role in an operator's sandbox (see
// ARCHITECTURE.md: hidden, filter, join, group, aggregate, visible).
type Role string

const (
	RoleHidden    Role = "hidden"
	RoleGroup     Role = "group"
	RoleAggregate Role = "aggregate"
	RoleVisible   Role = "visible"
)

// DefaultRoles gives each column its default sandbox role from the
// resource's grade and the columns' tags: direct identifiers hidden,
// quasi-identifiers usable as group keys (hidden for important data),
// sensitive columns only inside aggregates, the rest visible. Core data
// (核心数据) never enters authorized operation and is refused.
func DefaultRoles(grade string, tags map[string]pii.Tag) (map[string]Role, error) {
	class := gradeClass(grade)
	if class == "core" {
		return nil, apperr.New(apperr.Forbidden, "supply.core_grade", "resource", "")
	}
	out := make(map[string]Role, len(tags))
	for col, tag := range tags {
		switch tag {
		case pii.DirectIdentifier:
			out[col] = RoleHidden
		case pii.QuasiIdentifier:
			out[col] = RoleGroup
			if class == "important" {
				out[col] = RoleHidden
			}
		case pii.Sensitive:
			out[col] = RoleAggregate
		default:
			out[col] = RoleVisible
		}
	}
	return out, nil
}
