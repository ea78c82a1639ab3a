package registry

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/store"
)

// Step is one move of the registration workflow.
type Step string

const (
	StepAccept   Step = "accept"   // 受理
	StepReject   Step = "reject"   // 不予受理 / 不予登记
	StepAnnounce Step = "announce" // 审核通过并公示
	StepRegister Step = "register" // 登记
	StepCancel   Step = "cancel"   // 注销
)

// from lists the states each step may start from.
var from = map[Step][]Status{
	StepAccept:   {Submitted},
	StepReject:   {Submitted, Accepted, Announced},
	StepAnnounce: {Accepted},
	StepRegister: {Announced},
	StepCancel:   {Submitted, Accepted, Announced, Registered},
}

func allowedFrom(step Step, st Status) bool {
	for _, s := range from[step] {
		if s == st {
			return true
		}
	}
	return false
}

func reasonOK(r string, min int) error {
	if utf8.RuneCountInString(strings.TrimSpace(r)) < min {
		return apperr.New(apperr.Invalid, "registry.reason_required", "min", strconv.Itoa(min)).OnField("reason")
	}
	return nil
}

// Advance moves an item one step through the workflow. Accept, reject,
// announce and register are the authority's (as the registration
// platform of the item's region); cancel is also the holder's. Reject and
// cancel need a reason. Every attempt is audited, refusals included.
func (s *Service) Advance(ctx context.Context, p identity.Principal, id int64, step Step, reason string) (Item, error) {
	e := entry(p, "registry."+string(step), id)
	if _, ok := from[step]; !ok {
		return Item{}, s.log.Refuse(ctx, e, apperr.New(apperr.Invalid, "registry.step_unknown", "step", string(step)).OnField("step"))
	}
	reason = strings.TrimSpace(reason)
	if step == StepReject || step == StepCancel {
		if err := reasonOK(reason, 4); err != nil {
			return Item{}, s.log.Refuse(ctx, e, err)
		}
		e.Set("reason", reason)
	}
	var out Item
	err := s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		it, err := s.getItem(ctx, tx, id, -1)
		if err != nil {
			return err
		}
		action := identity.ActRegistryReview
		if step == StepCancel {
			action = identity.ActRegistryCancel
		}
		if err := identity.Authorize(s.regions, p, action, identity.Object{OrgID: it.HolderOrgID, Region: it.Region}); err != nil {
			return err
		}
		if !allowedFrom(step, it.Status) {
			return apperr.New(apperr.Conflict, "registry.step_not_allowed", "step", string(step), "status", string(it.Status))
		}
		e.Set("code", it.Code)
		e.Set("from", string(it.Status))
		now := s.clock()
		set := map[string]any{"updated_at": now}
		switch step {
		case StepAccept:
			due := s.calendar.Add(now, ReviewDays)
			set["status"], set["accepted_at"], set["review_due"] = string(Accepted), now, due.Date
		case StepAnnounce:
			end := s.calendar.Add(now, AnnounceDays)
			set["status"], set["announced_at"], set["announce_until"] = string(Announced), now, end.Date
		case StepRegister:
			if it.AnnounceEnd != nil && now.Before(endOfDay(*it.AnnounceEnd)) {
				return apperr.New(apperr.Conflict, "registry.announcement_running", "until", it.AnnounceEnd.Format("2006-01-02"))
			}
			set["status"], set["registered_at"], set["live_version"] = string(Registered), now, it.Version
			it.LiveVersion = it.Version
			if err := s.publish(ctx, tx, &it, set); err != nil {
				return err
			}
		case StepReject:
			set["reason"] = reason
			if it.LiveVersion > 0 {
				// A rejected change leaves the registered version in force.
				set["status"] = string(Registered)
			} else {
				set["status"], set["closed_at"] = string(Rejected), now
			}
		case StepCancel:
			set["status"], set["closed_at"], set["reason"] = string(Cancelled), now, reason
		}
		if err := update(ctx, tx, id, it.Status, set); err != nil {
			return err
		}
		out, err = s.getItem(ctx, tx, id, 0)
		if err != nil {
			return err
		}
		e.Set("to", string(out.Status))
		if s.index != nil && (step == StepRegister || step == StepCancel || step == StepReject) {
			return s.index.Index(ctx, tx, out)
		}
		return nil
	})
	return out, err
}

// update writes set to an item still in state was, so that two reviewers
// acting at once cannot both move it.
func update(ctx context.Context, tx *store.Tx, id int64, was Status, set map[string]any) error {
	cols := make([]string, 0, len(set))
	for k := range set {
		cols = append(cols, k)
	}
	// A stable column order keeps the statement text (and its cache) stable.
	sortStrings(cols)
	var b strings.Builder
	args := make([]any, 0, len(set)+2)
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = ?")
		args = append(args, set[c])
	}
	res, err := tx.Exec(ctx, "UPDATE registry_items SET "+b.String()+" WHERE id = ? AND status = ?", append(args, id, string(was))...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Conflict, "registry.changed_meanwhile")
	}
	return nil
}

func sortStrings(a []string) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// publish makes the item's version it.LiveVersion the public one: its
// facets, its declared data items, and the one-source check.
func (s *Service) publish(ctx context.Context, tx *store.Tx, it *Item, set map[string]any) error {
	var fields string
	if err := tx.QueryRow(ctx, "SELECT fields FROM registry_versions WHERE item_id = ? AND version = ?", it.ID, it.LiveVersion).Scan(&fields); err != nil {
		return err
	}
	if it.Kind == KindProduct {
		var f ProductForm
		if err := json.Unmarshal([]byte(fields), &f); err != nil {
			return err
		}
		set["name"], set["product_type"] = f.Name, f.Type
		return nil
	}
	var f ResourceForm
	if err := json.Unmarshal([]byte(fields), &f); err != nil {
		return err
	}
	set["name"], set["domain"], set["grade"], set["frequency"], set["access"] = f.Name, f.Domain, f.Grade, f.Frequency, f.AccessMethod
	if _, err := tx.Exec(ctx, "DELETE FROM registry_data_items WHERE item_id = ?", it.ID); err != nil {
		return err
	}
	for _, d := range f.Items {
		if _, err := tx.Exec(ctx, "INSERT INTO registry_data_items (item_id, name, label, standard, signature) VALUES (?, ?, ?, ?, ?)",
			it.ID, d.Name, d.Label, d.Standard, Signature(d)); err != nil {
			return err
		}
	}
	return s.detectOverlaps(ctx, tx, it.ID, it.HolderOrgID, s.clock())
}

// RequestChange submits a new version of a registered item (变更): it
// goes through acceptance, review and announcement again while the
// registered version stays in force.
func (s *Service) RequestChange(ctx context.Context, p identity.Principal, id int64, form any) (Item, error) {
	e := entry(p, "registry.change", id)
	return s.newVersion(ctx, p, e, id, form, "change", "")
}

// Correct fixes a registered item's record at once (更正), with a reason:
// the authority's remedy for an error found after registration.
func (s *Service) Correct(ctx context.Context, p identity.Principal, id int64, form any, reason string) (Item, error) {
	e := entry(p, "registry.correct", id)
	if err := reasonOK(reason, 4); err != nil {
		return Item{}, s.log.Refuse(ctx, e, err)
	}
	e.Set("reason", strings.TrimSpace(reason))
	return s.newVersion(ctx, p, e, id, form, "correct", strings.TrimSpace(reason))
}

func (s *Service) newVersion(ctx context.Context, p identity.Principal, e audit.Entry, id int64, form any, change, reason string) (Item, error) {
	var out Item
	err := s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		it, err := s.getItem(ctx, tx, id, -1)
		if err != nil {
			return err
		}
		action := identity.ActRegistryReview
		if change == "change" {
			action = identity.ActResourceSubmit
			if it.Kind == KindProduct {
				action = identity.ActProductSubmit
			}
		}
		if err := identity.Authorize(s.regions, p, action, identity.Object{OrgID: it.HolderOrgID, Region: it.Region}); err != nil {
			return err
		}
		if it.Status != Registered {
			return apperr.New(apperr.Conflict, "registry.step_not_allowed", "step", change, "status", string(it.Status))
		}
		fields, err := validForm(it, form)
		if err != nil {
			return err
		}
		now := s.clock()
		v := it.Version + 1
		if _, err := tx.Exec(ctx, "INSERT INTO registry_versions (item_id, version, change, fields, by_user_id, at, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
			id, v, change, string(fields), p.UserID, now, reason); err != nil {
			return err
		}
		set := map[string]any{"version": v, "updated_at": now}
		if change == "correct" {
			set["live_version"] = v
			it.LiveVersion = v
			if err := s.publish(ctx, tx, &it, set); err != nil {
				return err
			}
		} else {
			due := s.calendar.Add(now, AcceptDays)
			set["status"], set["submitted_at"], set["accept_due"] = string(Submitted), now, due.Date
			set["accepted_at"], set["review_due"], set["announced_at"], set["announce_until"] = nil, nil, nil, nil
		}
		if err := update(ctx, tx, id, Registered, set); err != nil {
			return err
		}
		e.Set("code", it.Code)
		e.Set("version", v)
		out, err = s.getItem(ctx, tx, id, 0)
		if err != nil {
			return err
		}
		if s.index != nil && change == "correct" {
			return s.index.Index(ctx, tx, out)
		}
		return nil
	})
	return out, err
}

// validForm checks a new version's form against the item's kind; the
// holder never changes.
func validForm(it Item, form any) ([]byte, error) {
	switch f := form.(type) {
	case ResourceForm:
		if it.Kind != KindResource {
			return nil, apperr.New(apperr.Invalid, "registry.kind_mismatch")
		}
		if f.HolderOrgID == 0 {
			f.HolderOrgID = it.HolderOrgID
		}
		if f.HolderOrgID != it.HolderOrgID {
			return nil, apperr.New(apperr.Invalid, "registry.holder_fixed").OnField("holder_org_id")
		}
		if err := f.Validate(); err != nil {
			return nil, err
		}
		return json.Marshal(f)
	case ProductForm:
		if it.Kind != KindProduct {
			return nil, apperr.New(apperr.Invalid, "registry.kind_mismatch")
		}
		if err := f.Validate(); err != nil {
			return nil, err
		}
		return json.Marshal(f)
	}
	return nil, apperr.New(apperr.Invalid, "registry.kind_mismatch")
}

// Deadline reports a working-day deadline for display, with the years it
// had to assume (no official calendar yet).
func (s *Service) Deadline(from time.Time, days int) (time.Time, []int) {
	r := s.calendar.Add(from, days)
	return r.Date, r.Assumed
}
