package grant

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
)

// Refusal keys of the scope check, for callers and tests that branch on
// why access was refused.
const (
	KeyPurposeRequired   = "grant.authz.purpose_required"
	KeyNoAgreement       = "grant.authz.no_agreement"
	KeyNotInScope        = "grant.authz.not_in_scope"
	KeyPurposeNotAllowed = "grant.authz.purpose_not_allowed"
	KeyNotActive         = "grant.authz.not_active"
	KeyNotStarted        = "grant.authz.not_started"
	KeySuspended         = "grant.authz.suspended"
	KeyTerminated        = "grant.authz.terminated"
	KeyExpired           = "grant.authz.expired"
	KeyExcluded          = "grant.authz.excluded"
)

// Authorize is the scope check every data access makes (R12.1, R15.3):
// may the operator use the resource for the purpose at this time? It
// returns nil, or a Forbidden apperr whose message says why: no agreement,
// the resource outside every agreement's scope, the purpose outside it,
// the agreement not yet in force, suspended, terminated or expired (by the
// clock, even before a sweep marks it), or the resource excluded, naming
// the exclusion. One indexed query, plus the exclusion check.
func (s *Service) Authorize(ctx context.Context, operatorOrgID, resourceID int64, purpose string, at time.Time) error {
	purpose = strings.TrimSpace(purpose)
	if purpose == "" {
		return apperr.New(apperr.Forbidden, KeyPurposeRequired).OnField("purpose")
	}
	rows, err := s.db.Query(ctx, `SELECT a.id, a.state, a.term_start, a.term_end, a.purposes, a.state_reason, sc.resource_id, sc.code, sc.name
		FROM grant_agreements a LEFT JOIN grant_agreement_scope sc ON sc.agreement_id = a.id AND sc.resource_id = ?
		WHERE a.operator_org_id = ? AND a.state IN (?, ?, ?, ?, ?)`,
		resourceID, operatorOrgID, string(AgreementSigned), string(AgreementActive), string(AgreementSuspended),
		string(AgreementTerminated), string(AgreementExpired))
	if err != nil {
		return fmt.Errorf("authorize operator %d resource %d: %w", operatorOrgID, resourceID, err)
	}
	defer rows.Close()
	day := Day(at)
	found := false
	var best error
	bestRank := 0
	// consider keeps the most telling refusal among the agreements that
	// cover the resource: a person is better told "suspended" than "expired
	// long ago".
	consider := func(rank int, err error) {
		if rank > bestRank {
			best, bestRank = err, rank
		}
	}
	var granted int64
	var code, name string
	for rows.Next() {
		var id int64
		var state, start, end, purposes, why string
		var rid sql.NullInt64
		var rcode, rname sql.NullString
		if err := rows.Scan(&id, &state, &start, &end, &purposes, &why, &rid, &rcode, &rname); err != nil {
			return fmt.Errorf("authorize operator %d resource %d: %w", operatorOrgID, resourceID, err)
		}
		found = true
		if !rid.Valid {
			continue
		}
		ref := id64(id)
		st := effectiveState(AgreementState(state), parseDay(end), at)
		switch {
		case st == AgreementSuspended:
			consider(6, apperr.New(apperr.Forbidden, KeySuspended, "agreement", ref, "reason", why))
		case st == AgreementSigned:
			consider(4, apperr.New(apperr.Forbidden, KeyNotActive, "agreement", ref))
		case st == AgreementActive && day.Before(parseDay(start)):
			consider(5, apperr.New(apperr.Forbidden, KeyNotStarted, "agreement", ref, "start", start))
		case st == AgreementExpired:
			consider(3, apperr.New(apperr.Forbidden, KeyExpired, "agreement", ref, "end", end))
		case st == AgreementTerminated:
			consider(2, apperr.New(apperr.Forbidden, KeyTerminated, "agreement", ref, "reason", why))
		case st == AgreementActive:
			if purposes != "" && !containsString(strings.Split(purposes, "\n"), purpose) {
				consider(7, apperr.New(apperr.Forbidden, KeyPurposeNotAllowed, "agreement", ref, "purpose", purpose,
					"allowed", strings.ReplaceAll(purposes, "\n", "、")))
				continue
			}
			granted, code, name = id, rcode.String, rname.String
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("authorize operator %d resource %d: %w", operatorOrgID, resourceID, err)
	}
	rows.Close()
	if granted == 0 {
		if best != nil {
			return best
		}
		if found {
			return apperr.New(apperr.Forbidden, KeyNotInScope, "resource", id64(resourceID))
		}
		return apperr.New(apperr.Forbidden, KeyNoAgreement)
	}
	// The negative list and consent are checked at use, not only when the
	// agreement was drafted: an exclusion approved later applies at once.
	why, excluded, err := s.excluded(ctx, resourceID, at)
	if err != nil {
		return fmt.Errorf("authorize operator %d resource %d: %w", operatorOrgID, resourceID, err)
	}
	if excluded {
		return apperr.New(apperr.Forbidden, KeyExcluded, "code", code, "name", name, "reason", why)
	}
	return nil
}

// Work returns a context for running work under an agreement: it is
// cancelled the moment the agreement is suspended, terminated or expired
// (see StopOf for the cause), and carries the end of the term as its
// deadline. It refuses, with the scope check's reasons, an agreement that
// is not the operator's or not in force now. The registration comes first
// and the check second, so a stop between the two is never missed.
func (s *Service) Work(ctx context.Context, operatorOrgID, agreementID int64) (context.Context, context.CancelFunc, error) {
	wctx, cancel := s.signals.Context(ctx, agreementID)
	var op int64
	var state, start, end, why string
	err := s.db.QueryRow(ctx, "SELECT operator_org_id, state, term_start, term_end, state_reason FROM grant_agreements WHERE id = ?",
		agreementID).Scan(&op, &state, &start, &end, &why)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && op != operatorOrgID) {
		cancel()
		return nil, nil, apperr.New(apperr.Forbidden, KeyNoAgreement)
	}
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("work under agreement %d: %w", agreementID, err)
	}
	now := s.clock()
	ref := id64(agreementID)
	var refusal error
	switch st := effectiveState(AgreementState(state), parseDay(end), now); {
	case st == AgreementActive && Day(now).Before(parseDay(start)):
		refusal = apperr.New(apperr.Forbidden, KeyNotStarted, "agreement", ref, "start", start)
	case st == AgreementActive:
	case st == AgreementSuspended:
		refusal = apperr.New(apperr.Forbidden, KeySuspended, "agreement", ref, "reason", why)
	case st == AgreementExpired:
		refusal = apperr.New(apperr.Forbidden, KeyExpired, "agreement", ref, "end", end)
	case st == AgreementTerminated:
		refusal = apperr.New(apperr.Forbidden, KeyTerminated, "agreement", ref, "reason", why)
	default:
		refusal = apperr.New(apperr.Forbidden, KeyNotActive, "agreement", ref)
	}
	if refusal != nil {
		cancel()
		return nil, nil, refusal
	}
	dctx, dcancel := context.WithDeadline(wctx, endOfDay(parseDay(end)))
	return dctx, func() { dcancel(); cancel() }, nil
}
