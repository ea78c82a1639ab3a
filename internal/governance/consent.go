package governance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/store"
)

// Consent is a providing unit's consent to authorized operation of data it
// shared (R5.3): who gave it, by what document, for what scope, from when
// and until when; a withdrawn consent stays on record.
type Consent struct {
	ID             int64      `json:"id"`
	ResourceID     int64      `json:"resource_id"`
	Provider       string     `json:"provider"`
	ProviderRegion string     `json:"provider_region,omitempty"`
	DocumentRef    string     `json:"document_ref"`
	Scope          string     `json:"scope"`
	GrantedOn      time.Time  `json:"granted_on"`
	ExpiresOn      *time.Time `json:"expires_on,omitempty"`
	WithdrawnAt    *time.Time `json:"withdrawn_at,omitempty"`
	WithdrawReason string     `json:"withdraw_reason,omitempty"`
	RecordedBy     string     `json:"recorded_by"`
	RecordedAt     time.Time  `json:"recorded_at"`
}

// ValidAt says whether the consent covers the moment at.
func (c Consent) ValidAt(at time.Time) bool {
	if c.WithdrawnAt != nil && !at.Before(*c.WithdrawnAt) {
		return false
	}
	if at.Before(c.GrantedOn) {
		return false
	}
	// Expiry is a date: the consent holds through that whole day in China.
	return c.ExpiresOn == nil || !today(at).After(*c.ExpiresOn)
}

// ConsentInput records a consent.
type ConsentInput struct {
	ResourceID  int64      `json:"resource_id"`
	DocumentRef string     `json:"document_ref"`
	Scope       string     `json:"scope"`
	GrantedOn   time.Time  `json:"granted_on"`
	ExpiresOn   *time.Time `json:"expires_on,omitempty"`
}

// Audit actions of consent.
const (
	ActionConsentRecord   = "governance.consent_record"
	ActionConsentWithdraw = "governance.consent_withdraw"
)

// RecordConsent records the provider's consent for a resource obtained
// through data sharing, by the department holding it (or the agency).
func (s *Service) RecordConsent(ctx context.Context, p identity.Principal, in ConsentInput) (Consent, error) {
	e := entry(p, ActionConsentRecord, "resource", in.ResourceID)
	var out Consent
	err := s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		r, err := s.resources.Resource(ctx, in.ResourceID)
		if err != nil {
			return err
		}
		if !s.may(p, identity.ActConsentManage, r, 0) {
			return apperr.New(apperr.Forbidden, "governance.holder_only", "resource", r.Code)
		}
		if r.Shared == nil {
			return apperr.New(apperr.Invalid, "governance.not_shared", "resource", r.Code)
		}
		doc, err := text("document_ref", in.DocumentRef, 2, 200)
		if err != nil {
			return err
		}
		scope, err := text("scope", in.Scope, 2, 1000)
		if err != nil {
			return err
		}
		if in.GrantedOn.IsZero() {
			return apperr.New(apperr.Invalid, "governance.required", "field", "@governance.field.granted_on").OnField("granted_on")
		}
		granted := in.GrantedOn.UTC()
		var expires any
		if in.ExpiresOn != nil {
			x := in.ExpiresOn.UTC()
			if !x.After(granted) {
				return apperr.New(apperr.Invalid, "governance.expiry_before_grant").OnField("expires_on")
			}
			expires = x
			e.Set("expires_on", x.Format(time.DateOnly))
		}
		now := s.clock()
		id, err := tx.InsertID(ctx, `INSERT INTO gov_consents (resource_id, provider_name, provider_region, document_ref, scope,
			granted_on, expires_on, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Shared.Provider, r.Shared.Region, doc, scope, granted, expires, p.Login, now)
		if err != nil {
			return fmt.Errorf("consent for %s: %w", r.Code, err)
		}
		e.ObjectType, e.ObjectID = "consent", strconv.FormatInt(id, 10)
		e.Set("resource", r.Code)
		e.Set("provider", r.Shared.Provider)
		e.Set("document_ref", doc)
		out, err = s.loadConsent(ctx, tx, id)
		return err
	})
	return out, err
}

// WithdrawConsent records that the provider withdrew its consent; from
// then on the scope check refuses the resource.
func (s *Service) WithdrawConsent(ctx context.Context, p identity.Principal, id int64, reason string) (Consent, error) {
	e := entry(p, ActionConsentWithdraw, "consent", id)
	var out Consent
	err := s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		c, err := s.loadConsent(ctx, tx, id)
		if err != nil {
			return err
		}
		r, err := s.resources.Resource(ctx, c.ResourceID)
		if err != nil {
			return err
		}
		if !s.may(p, identity.ActConsentManage, r, 0) {
			return apperr.New(apperr.Forbidden, "governance.holder_only", "resource", r.Code)
		}
		if c.WithdrawnAt != nil {
			return apperr.New(apperr.Conflict, "governance.consent_withdrawn")
		}
		reason, err := text("reason", reason, 2, 1000)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE gov_consents SET withdrawn_at = ?, withdraw_reason = ? WHERE id = ? AND withdrawn_at IS NULL`,
			s.clock(), reason, id); err != nil {
			return err
		}
		e.Set("resource", r.Code)
		e.Set("reason", reason)
		out, err = s.loadConsent(ctx, tx, id)
		return err
	})
	return out, err
}

const consentColumns = `id, resource_id, provider_name, provider_region, document_ref, scope, granted_on, expires_on,
	withdrawn_at, withdraw_reason, recorded_by, recorded_at`

func scanConsent(sc scanner) (Consent, error) {
	var c Consent
	var exp, wd sql.NullTime
	if err := sc(&c.ID, &c.ResourceID, &c.Provider, &c.ProviderRegion, &c.DocumentRef, &c.Scope, &c.GrantedOn, &exp, &wd,
		&c.WithdrawReason, &c.RecordedBy, &c.RecordedAt); err != nil {
		return c, err
	}
	c.GrantedOn, c.RecordedAt = c.GrantedOn.UTC(), c.RecordedAt.UTC()
	c.ExpiresOn, c.WithdrawnAt = nullTime(exp), nullTime(wd)
	return c, nil
}

func (s *Service) loadConsent(ctx context.Context, q querier, id int64) (Consent, error) {
	c, err := scanConsent(q.QueryRow(ctx, `SELECT `+consentColumns+` FROM gov_consents WHERE id = ?`, id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return c, apperr.New(apperr.NotFound, "governance.no_consent")
	}
	return c, err
}

// Consents lists a resource's consents, newest first.
func (s *Service) Consents(ctx context.Context, resourceID int64) ([]Consent, error) {
	rows, err := s.db.Query(ctx, `SELECT `+consentColumns+` FROM gov_consents WHERE resource_id = ? ORDER BY id DESC`, resourceID)
	if err != nil {
		return nil, fmt.Errorf("consents of %d: %w", resourceID, err)
	}
	defer rows.Close()
	out := []Consent{}
	for rows.Next() {
		c, err := scanConsent(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Exclusion says why a resource may not enter authorized operation at a
// moment: an approved negative-list entry, or shared data without a
// provider's valid consent.
type Exclusion struct {
	// Kind is "negative_list" or "consent".
	Kind string `json:"kind"`
	// Code names the entry (FMQD-0003) or the provider.
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// Reason is the exclusion as one line for a refusal message.
func (x Exclusion) Reason() string {
	if x.Kind == "negative_list" {
		return "负面清单 " + x.Code + "（" + x.Detail + "）"
	}
	return "未取得共享提供方“" + x.Code + "”的有效授权同意（" + x.Detail + "）"
}

// Exclude returns what keeps the resource out of authorized operation at
// the moment at, or nil. Plans, agreements and every data access ask
// through the scope check.
func (s *Service) Exclude(ctx context.Context, resourceID int64, at time.Time) (*Exclusion, error) {
	var id int64
	var basis string
	err := s.db.QueryRow(ctx, `SELECT id, basis FROM gov_negative WHERE resource_id = ? AND state = 'approved' AND decided_at <= ?
		ORDER BY id LIMIT 1`, resourceID, at.UTC()).Scan(&id, &basis)
	switch {
	case err == nil:
		return &Exclusion{Kind: "negative_list", Code: negativeCode(id), Detail: basis}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("negative list of %d: %w", resourceID, err)
	}
	r, err := s.resources.Resource(ctx, resourceID)
	if err != nil {
		return nil, err
	}
	if r.Shared == nil {
		return nil, nil
	}
	cs, err := s.Consents(ctx, resourceID)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.ValidAt(at) {
			return nil, nil
		}
	}
	// The newest record says why none holds.
	detail := "无同意记录"
	if len(cs) > 0 {
		c := cs[0]
		switch {
		case c.WithdrawnAt != nil && !at.Before(*c.WithdrawnAt):
			detail = "同意已于 " + c.WithdrawnAt.In(shanghai).Format(time.DateOnly) + " 撤回"
		case c.ExpiresOn != nil && today(at).After(*c.ExpiresOn):
			detail = "同意已于 " + c.ExpiresOn.Format(time.DateOnly) + " 到期"
		default:
			detail = "同意自 " + c.GrantedOn.In(shanghai).Format(time.DateOnly) + " 起生效"
		}
	}
	return &Exclusion{Kind: "consent", Code: r.Shared.Provider, Detail: detail}, nil
}

// Excluded is Exclude in the shape the scope check of internal/grant asks.
func (s *Service) Excluded(ctx context.Context, resourceID int64, at time.Time) (string, bool, error) {
	x, err := s.Exclude(ctx, resourceID, at)
	if err != nil || x == nil {
		return "", false, err
	}
	return x.Reason(), true, nil
}
