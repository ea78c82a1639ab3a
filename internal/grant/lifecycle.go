package grant

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/store"
)

// SuspendAgreement suspends an active agreement for breach or major risk
// (R16.1). It takes effect at once: the Revoker ends the operator's access
// in the same transaction, and once committed every context bound to the
// agreement is cancelled.
func (s *Service) SuspendAgreement(ctx context.Context, p identity.Principal, id int64, why string) (Agreement, error) {
	return s.stop(ctx, p, id, "suspend", identity.ActAgreementSuspend, why)
}

// ResumeAgreement lifts a suspension (R16.1). The operator signs in again;
// nothing revoked comes back by itself.
func (s *Service) ResumeAgreement(ctx context.Context, p identity.Principal, id int64, why string) (Agreement, error) {
	return s.agreementStep(ctx, p, id, "resume", identity.ActAgreementSuspend, why, func(tx *store.Tx, a *Agreement, now time.Time) (map[string]any, AgreementState, error) {
		r, err := reason(why)
		if err != nil {
			return nil, "", err
		}
		return map[string]any{"state_reason": r}, AgreementActive, nil
	})
}

// TerminateAgreement ends an active or suspended agreement early (R16.1).
// As with suspension, access ends at once; the end also opens the handover
// checklist and keeps the operator's work log RetentionYears after the
// end (R16.2).
func (s *Service) TerminateAgreement(ctx context.Context, p identity.Principal, id int64, why string) (Agreement, error) {
	return s.stop(ctx, p, id, "terminate", identity.ActAgreementTerminate, why)
}

func (s *Service) stop(ctx context.Context, p identity.Principal, id int64, step string, act identity.Action, why string) (Agreement, error) {
	var stopped Stop
	a, err := s.agreementStep(ctx, p, id, step, act, why, func(tx *store.Tx, a *Agreement, now time.Time) (map[string]any, AgreementState, error) {
		r, err := reason(why)
		if err != nil {
			return nil, "", err
		}
		to, _ := AgreementCan(a.State, step)
		set := map[string]any{"state_reason": r}
		if to.Ended() {
			set["ended_on"] = formatDay(Day(now))
			if err := openHandover(ctx, tx, a.ID, now); err != nil {
				return nil, "", err
			}
		}
		if err := s.revoke(ctx, tx, *a); err != nil {
			return nil, "", err
		}
		stopped = Stop{AgreementID: a.ID, State: to, Reason: r, At: now}
		return set, to, nil
	})
	if err != nil {
		return Agreement{}, err
	}
	s.signals.Publish(stopped)
	if a.State.Ended() {
		return s.retain(ctx, p.Actor(), a), nil
	}
	return a, nil
}

func (s *Service) revoke(ctx context.Context, tx *store.Tx, a Agreement) error {
	if s.revoker == nil {
		return nil
	}
	if err := s.revoker.RevokeAgreement(ctx, tx, a.OperatorOrgID, a.ID); err != nil {
		return fmt.Errorf("revoke access under agreement %d: %w", a.ID, err)
	}
	return nil
}

func openHandover(ctx context.Context, tx *store.Tx, id int64, now time.Time) error {
	for _, it := range HandoverItems {
		if _, err := tx.Exec(ctx, "INSERT INTO grant_handover_items (agreement_id, item, opened_at) VALUES (?, ?, ?)", id, it, now); err != nil {
			return fmt.Errorf("handover item %s: %w", it, err)
		}
	}
	return nil
}

// retain records the work-log retention of an ended agreement (R16.2).
// The audit log keeps it in a transaction of its own, so it follows the
// end's commit; if it fails, the agreement shows RetentionPending and the
// next Sweep records it.
func (s *Service) retain(ctx context.Context, actor audit.Actor, a Agreement) Agreement {
	if a.EndedOn.IsZero() || !a.RetentionUntil.IsZero() {
		return a
	}
	if _, err := s.log.SetRetention(ctx, actor, a.OperatorOrgID, agreementRef(a.ID), a.EndedOn, RetentionYears); err != nil {
		slog.WarnContext(ctx, "grant: work-log retention not recorded yet; the sweep retries", "agreement", a.ID, "err", err)
		return a
	}
	until := time.Date(a.EndedOn.Year()+RetentionYears, a.EndedOn.Month(), a.EndedOn.Day(), 0, 0, 0, 0, time.UTC)
	// A record of what the audit log already holds (and audited), kept
	// here so lists need not ask the log.
	if _, err := s.db.Exec(ctx, "UPDATE grant_agreements SET retention_until = ? WHERE id = ? AND retention_until = ''", formatDay(until), a.ID); err != nil {
		slog.WarnContext(ctx, "grant: retention date not noted on the agreement", "agreement", a.ID, "err", err)
		return a
	}
	a.RetentionUntil, a.RetentionPending = until, false
	return a
}

func agreementRef(id int64) string { return "agreement:" + id64(id) }

// SweepResult says what a sweep did.
type SweepResult struct {
	Expired  []int64 // agreements marked expired
	Retained []int64 // ended agreements whose retention was recorded
}

// Sweep marks expired the agreements whose term ended before now's day
// (as the system, audited), with the same immediate effect as a
// termination, and records any retention still pending. Authorize already
// refuses such agreements before the sweep runs; the sweep makes the
// record, the revocation and the handover follow. Run it on a ticker.
func (s *Service) Sweep(ctx context.Context, now time.Time) (SweepResult, error) {
	var res SweepResult
	today := formatDay(Day(now))
	ids, err := s.ids(ctx, "SELECT id FROM grant_agreements WHERE state IN (?, ?, ?) AND term_end < ? ORDER BY id",
		string(AgreementSigned), string(AgreementActive), string(AgreementSuspended), today)
	if err != nil {
		return res, fmt.Errorf("sweep: %w", err)
	}
	var errs []error
	for _, id := range ids {
		if err := s.expire(ctx, id, now); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Expired = append(res.Expired, id)
	}
	pending, err := s.ids(ctx, "SELECT id FROM grant_agreements WHERE state IN (?, ?) AND retention_until = '' ORDER BY id",
		string(AgreementTerminated), string(AgreementExpired))
	if err != nil {
		return res, fmt.Errorf("sweep: %w", err)
	}
	for _, id := range pending {
		a, err := s.getAgreement(ctx, s.db, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s.retain(ctx, audit.System, a).RetentionPending {
			errs = append(errs, fmt.Errorf("agreement %d: retention not recorded", id))
			continue
		}
		res.Retained = append(res.Retained, id)
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("sweep: %d failed, first: %w", len(errs), errs[0])
	}
	return res, nil
}

func (s *Service) ids(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// expire ends one agreement by the clock.
func (s *Service) expire(ctx context.Context, id int64, now time.Time) error {
	o := newOp(audit.System, "agreement.expire", "grant_agreement", id)
	var stopped Stop
	err := s.do(ctx, o, func(tx *store.Tx, o *op) error {
		a, err := s.getAgreement(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, ok := AgreementCan(a.State, "expire"); !ok || !Day(now).After(a.Form.TermEnd) {
			return notAllowed("agreement", "expire", string(a.State))
		}
		set := map[string]any{"state": string(AgreementExpired), "ended_on": formatDay(a.Form.TermEnd),
			"state_reason": "", "state_changed_at": now, "updated_at": now}
		if err := guardedUpdate(ctx, tx, "grant_agreements", id, string(a.State), set); err != nil {
			return err
		}
		if err := openHandover(ctx, tx, id, now); err != nil {
			return err
		}
		if err := s.revoke(ctx, tx, a); err != nil {
			return err
		}
		o.e.Set("from", string(a.State))
		o.e.Set("to", string(AgreementExpired))
		o.e.Set("term_end", formatDay(a.Form.TermEnd))
		o.event("agreement", id, "expire", string(a.State), string(AgreementExpired), formatDay(a.Form.TermEnd))
		stopped = Stop{AgreementID: id, State: AgreementExpired, Reason: formatDay(a.Form.TermEnd), At: now}
		return nil
	})
	if err != nil {
		return fmt.Errorf("expire agreement %d: %w", id, err)
	}
	s.signals.Publish(stopped)
	a, err := s.getAgreement(ctx, s.db, id)
	if err != nil {
		return err
	}
	s.retain(ctx, audit.System, a)
	return nil
}

// CloseHandoverItem closes one item of an ended agreement's handover
// checklist with its evidence (R16.2); the last one closes the handover.
func (s *Service) CloseHandoverItem(ctx context.Context, p identity.Principal, id int64, item, evidence string) (Agreement, error) {
	o := newOp(p.Actor(), "agreement.handover", "grant_agreement", id)
	o.e.Set("item", item)
	ev, err := text("evidence", evidence, 2, 2000)
	if err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	a, err := s.getAgreement(ctx, s.db, id)
	if err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	if err := identity.Authorize(s.regions, p, identity.ActAgreementHandover, a.object()); err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	if !a.State.Ended() {
		return Agreement{}, s.refuse(ctx, o, notAllowed("agreement", "handover", string(a.State)))
	}
	err = s.do(ctx, o, func(tx *store.Tx, o *op) error {
		now := s.clock()
		res, err := tx.Exec(ctx, "UPDATE grant_handover_items SET closed_at = ?, closed_by = ?, evidence = ? WHERE agreement_id = ? AND item = ? AND closed_at IS NULL",
			now, p.UserID, ev, id, item)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "grant.handover_item_not_open", "item", "@grant.handover."+item).OnField("item")
		}
		var open int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM grant_handover_items WHERE agreement_id = ? AND closed_at IS NULL", id).Scan(&open); err != nil {
			return err
		}
		if open == 0 {
			if _, err := tx.Exec(ctx, "UPDATE grant_agreements SET handover_closed_at = ?, updated_at = ? WHERE id = ?", now, now, id); err != nil {
				return err
			}
			o.e.Set("handover_closed", true)
		}
		o.event("agreement", id, "handover", string(a.State), string(a.State), item+": "+ev)
		return nil
	})
	if err != nil {
		return Agreement{}, err
	}
	return s.getAgreement(ctx, s.db, id)
}
