// Package grant owns authorization itself (R7-R11, R16, R19.2):
// implementation plans (实施方案) with their versions, the government's
// 三重一大 decision record and the filing of city and county plans with the
// provincial authority on the working-day calendar; operator selection
// with the R10.2 checklist; operating agreements (运营协议) and their life
// cycle from draft to active, suspended, terminated or expired, with the
// handover and the work-log retention an end brings; the scope check every
// data access calls (Authorize); the cancellation signal that stops running
// work the moment an agreement stops; the public disclosure data; and a
// timeline of every step with its audit entry. It never reads the data,
// renders pages or speaks HTTP, and it learns about resources, exclusions
// and revocation only through the small interfaces defined here.
package grant

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/workday"
)

// FilingDays is the working-day limit for filing a decided city or county
// plan (R9.1) and a signed agreement (R11.1) with the provincial authority.
const FilingDays = 20

// RetentionYears is how long an operator's work log is kept after its
// agreement ends (R16.2).
const RetentionYears = audit.MinRetentionYears

// ResourceFacts is what grant needs to know of a registered resource.
type ResourceFacts struct {
	ID          int64
	Code        string // the registration identifier
	Name        string
	Grade       string // GB/T 43697 grade: core, important, general-N
	Domain      string
	HolderOrgID int64
	Region      string
	// Status is the registration status shown in the yearly disclosure;
	// Registered says whether the resource is registered (R13.1).
	Status     string
	Registered bool
}

// Resources describes registered resources (the registry implements it).
// An unknown resource is an apperr NotFound.
type Resources interface {
	Resource(ctx context.Context, id int64) (ResourceFacts, error)
}

// Exclusions says whether a resource is kept out of authorized operation
// at a time: an approved negative-list entry (R5.2) or shared data without
// the provider's consent (R5.3). The reason names the exclusion for the
// person refused.
type Exclusions interface {
	Excluded(ctx context.Context, resourceID int64, at time.Time) (reason string, excluded bool, err error)
}

// Revoker ends an operator's access under an agreement the moment it is
// suspended, terminated or expires (R16.2): sessions and API tokens under
// it, its product APIs. It runs inside the transaction that changes the
// agreement's state, so the change and the revocation commit together; it
// must use tx and never open a transaction of its own.
type Revoker interface {
	RevokeAgreement(ctx context.Context, tx *store.Tx, operatorOrgID, agreementID int64) error
}

// Options tune the service; the zero value is the regulation's setting.
type Options struct {
	// MaxTermYears caps an agreement's term (default 5).
	MaxTermYears int
}

// Service runs plans, selections and agreements over the control-plane store.
type Service struct {
	db         *store.DB
	log        *audit.Log
	regions    *region.Table
	calendar   *workday.Calendar
	now        func() time.Time
	resources  Resources
	exclusions Exclusions
	revoker    Revoker
	signals    *Signals
	opt        Options
}

// New returns the service. exclusions and revoker may be nil (none yet);
// signals may be nil, and a fresh broker is made.
func New(db *store.DB, log *audit.Log, regions *region.Table, calendar *workday.Calendar, now func() time.Time,
	resources Resources, exclusions Exclusions, revoker Revoker, signals *Signals, opt Options) *Service {
	if now == nil {
		now = time.Now
	}
	if signals == nil {
		signals = NewSignals()
	}
	if opt.MaxTermYears <= 0 {
		opt.MaxTermYears = 5
	}
	return &Service{db: db, log: log, regions: regions, calendar: calendar, now: now,
		resources: resources, exclusions: exclusions, revoker: revoker, signals: signals, opt: opt}
}

// Signals returns the broker that cancels work when an agreement stops.
func (s *Service) Signals() *Signals { return s.signals }

// Calendar returns the working-day calendar deadlines are counted in.
func (s *Service) Calendar() *workday.Calendar { return s.calendar }

func (s *Service) clock() time.Time { return s.now().UTC() }

// shanghai is the zone the regulation's days are counted in.
var shanghai = time.FixedZone("CST", 8*3600)

// Day returns the calendar day of t in China's time zone, as midnight UTC
// of that date: the form every term and deadline is kept in.
func Day(t time.Time) time.Time {
	t = t.In(shanghai)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

const dateLayout = time.DateOnly

func formatDay(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(dateLayout)
}

func parseDay(s string) time.Time {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// endOfDay is the last instant of day d in China's time zone.
func endOfDay(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 24, 0, 0, 0, shanghai).Add(-time.Nanosecond)
}

func startOfDay(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, shanghai)
}

func id64(n int64) string { return strconv.FormatInt(n, 10) }

// op is one audited step in progress: its audit entry and the timeline
// events it adds, written with the entry's ID.
type op struct {
	e      audit.Entry
	events []event
}

type event struct {
	objectType string
	objectID   int64
	step       string
	from, to   string
	note       string
}

func (o *op) event(objectType string, id int64, step, from, to, note string) {
	o.events = append(o.events, event{objectType, id, step, from, to, note})
}

func newOp(actor audit.Actor, action, objectType string, id int64) *op {
	o := &op{e: audit.Entry{Actor: actor, Action: action, ObjectType: objectType}}
	if id != 0 {
		o.e.ObjectID = id64(id)
	}
	return o
}

// do runs fn in a transaction that also appends o's audit entry and its
// timeline events; when fn fails nothing of it remains and the refusal (or
// failure) is audited on its own. It is audit.Log.Do, except that the
// entry's ID is known in the transaction, so each timeline row can point
// at the entry that proves it.
func (s *Service) do(ctx context.Context, o *op, fn func(tx *store.Tx, o *op) error) error {
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := fn(tx, o); err != nil {
			return err
		}
		e := o.e
		e.Outcome = audit.OK
		if e.At.IsZero() {
			e.At = s.clock()
		}
		auditID, err := s.log.Append(ctx, tx, e)
		if err != nil {
			return err
		}
		for _, ev := range o.events {
			if _, err := tx.Exec(ctx, `INSERT INTO grant_events (object_type, object_id, step, from_state, to_state,
				actor_user_id, actor_login, actor_org_id, at, audit_id, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				ev.objectType, ev.objectID, ev.step, ev.from, ev.to, nullID(e.Actor.UserID), e.Actor.Login,
				nullID(e.Actor.OrgID), e.At.UTC(), auditID, ev.note); err != nil {
				return fmt.Errorf("timeline %s %d: %w", ev.objectType, ev.objectID, err)
			}
		}
		return nil
	})
	if err != nil {
		return s.log.Refuse(ctx, o.e, err)
	}
	return nil
}

// refuse audits a refusal decided before any transaction.
func (s *Service) refuse(ctx context.Context, o *op, err error) error {
	return s.log.Refuse(ctx, o.e, err)
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

type querier interface {
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// orgFacts reads the type, region and name of an organisation.
func orgFacts(ctx context.Context, q querier, id int64) (identity.OrgType, string, string, error) {
	var typ, reg, name string
	err := q.QueryRow(ctx, "SELECT type, region_code, name FROM organizations WHERE id = ?", id).Scan(&typ, &reg, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", "", apperr.New(apperr.NotFound, "grant.org_unknown", "id", id64(id))
	}
	if err != nil {
		return "", "", "", fmt.Errorf("organization %d: %w", id, err)
	}
	return identity.OrgType(typ), reg, name, nil
}

// text checks a required free-text field and returns it trimmed.
func text(field, v string, min, max int) (string, error) {
	v = strings.TrimSpace(v)
	n := utf8.RuneCountInString(v)
	if n == 0 {
		return v, apperr.New(apperr.Invalid, "grant.field_required", "field", "@grant.field."+field).OnField(field)
	}
	if n < min || n > max {
		return v, apperr.New(apperr.Invalid, "grant.field_length", "field", "@grant.field."+field,
			"min", strconv.Itoa(min), "max", strconv.Itoa(max)).OnField(field)
	}
	return v, nil
}

// reason checks the reason a refusal-like step (return, suspend, end) must give.
func reason(v string) (string, error) {
	return text("reason", v, 4, 2000)
}

// Deadline is a working-day deadline as the consoles show it.
type Deadline struct {
	Due time.Time `json:"due"`
	// Left is the working days from today to Due (negative once overdue).
	Left    int  `json:"left"`
	Overdue bool `json:"overdue"`
	// Met is set once the step was done; Late when it was done after Due.
	Met  bool `json:"met"`
	Late bool `json:"late"`
	// Assumed lists years without official calendar data the count
	// crossed: show a warning beside the date.
	Assumed []int `json:"assumed,omitempty"`
}

// deadline computes the countdown of a due day at now; done is when the
// step was taken (nil while pending).
func (s *Service) deadline(due time.Time, done *time.Time, now time.Time) *Deadline {
	if due.IsZero() {
		return nil
	}
	d := &Deadline{Due: due}
	today := Day(now)
	if done != nil {
		d.Met = true
		d.Late = Day(*done).After(due)
		return d
	}
	r := s.calendar.Between(today, due)
	d.Left, d.Assumed = r.Days, r.Assumed
	d.Overdue = today.After(due)
	// The due day's own year can lack data even when the count does not cross it.
	if !s.calendar.Known(due.Year()) && !containsInt(d.Assumed, due.Year()) {
		d.Assumed = append(d.Assumed, due.Year())
	}
	return d
}

// FilingDue returns the day a filing is due: FilingDays working days after
// the day of the decision or signature, and the years it had to assume.
func (s *Service) FilingDue(from time.Time) (time.Time, []int) {
	r := s.calendar.Add(Day(from), FilingDays)
	return r.Date, r.Assumed
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// notAllowed is the refusal of a step from a state that does not admit it.
func notAllowed(object, step, state string) error {
	return apperr.New(apperr.Conflict, "grant.step_not_allowed", "object", "@grant.object."+object,
		"step", "@grant.step."+step, "state", "@grant.state."+state)
}

// changedMeanwhile refuses a write that lost a race with another.
func changedMeanwhile() error { return apperr.New(apperr.Conflict, "grant.changed_meanwhile") }

// guardedUpdate writes set to a row of table still in state was, so that
// two people acting at once cannot both move it.
func guardedUpdate(ctx context.Context, tx *store.Tx, table string, id int64, was string, set map[string]any) error {
	return updateWhere(ctx, tx, table, set, "id = ? AND state = ?", id, was)
}

// updateWhere writes set to the one row matching where, or reports that it
// changed meanwhile.
func updateWhere(ctx context.Context, tx *store.Tx, table string, set map[string]any, where string, whereArgs ...any) error {
	cols := make([]string, 0, len(set))
	for k := range set {
		cols = append(cols, k)
	}
	// A stable column order keeps the statement text (and its cache) stable.
	slices.Sort(cols)
	var b strings.Builder
	args := make([]any, 0, len(set)+len(whereArgs))
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = ?")
		args = append(args, set[c])
	}
	res, err := tx.Exec(ctx, "UPDATE "+table+" SET "+b.String()+" WHERE "+where, append(args, whereArgs...)...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return changedMeanwhile()
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
