// Package governance owns what keeps a department answerable for the data
// it supplies (R5.2, R5.3, R6.2, R19.1): corrections and objections raised
// by the public, by operators or by quality rules, routed to the holding
// department and answered within a number of working days on the official
// calendar, escalated to the authority when late; the negative list
// (负面清单), which keeps a resource out of authorized operation only once
// the government has approved the entry; the consent of the providing unit
// for data obtained through government data sharing; and the per-department
// figures the contribution evaluation is built on. Its Excluded answer is
// what the scope check of every plan, agreement and data access consults.
package governance

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/workday"
)

// Resource is what governance needs to know of a registered resource.
type Resource struct {
	ID          int64
	Code        string
	Name        string
	HolderOrgID int64
	Region      string
	Grade       string
	Frequency   string
	// Public resources are the ones anybody may raise an objection on.
	Public bool
	// Shared names the providing unit of data obtained through government
	// data sharing (R5.3); nil for a department's own data.
	Shared *SharedOrigin
}

// SharedOrigin is the unit that shared the data, and its region.
type SharedOrigin struct {
	Provider string
	Region   string
}

// Resources finds registered resources (the registry, adapted by the caller).
type Resources interface {
	Resource(ctx context.Context, id int64) (Resource, error)
}

// Options tune the service; zero values take the defaults.
type Options struct {
	// AnswerDays is the working days a department has to answer a case
	// (default 10).
	AnswerDays int
	// PublicPerHour bounds the cases one address or one contact may raise
	// in an hour without an account (default 5).
	PublicPerHour int
}

// Service runs supply governance.
type Service struct {
	db        *store.DB
	log       *audit.Log
	resources Resources
	regions   *region.Table
	cal       *workday.Calendar
	now       func() time.Time
	opts      Options
}

// New wires the service; regions is the table the authorization decision
// checks a resource's region against.
func New(db *store.DB, log *audit.Log, resources Resources, regions *region.Table, cal *workday.Calendar, now func() time.Time, opts Options) *Service {
	if opts.AnswerDays <= 0 {
		opts.AnswerDays = 10
	}
	if opts.PublicPerHour <= 0 {
		opts.PublicPerHour = 5
	}
	return &Service{db: db, log: log, resources: resources, regions: regions, cal: cal, now: now, opts: opts}
}

// AnswerDays is the configured answering deadline in working days.
func (s *Service) AnswerDays() int { return s.opts.AnswerDays }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// today is the calendar date in China, as a UTC midnight like the
// working-day calendar's dates.
func today(t time.Time) time.Time {
	l := t.In(shanghai)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
}

func entry(p identity.Principal, action, objectType string, id int64) audit.Entry {
	actor := p.Actor()
	if actor.Login == "" {
		actor = audit.Anonymous("")
	}
	e := audit.Entry{Actor: actor, Action: action, ObjectType: objectType}
	if id != 0 {
		e.ObjectID = strconv.FormatInt(id, 10)
	}
	return e
}

// may is identity.Authorize's decision on action a over resource r (and,
// for a case, the user who raised it).
func (s *Service) may(p identity.Principal, a identity.Action, r Resource, raiser int64) bool {
	return identity.Authorize(s.regions, p, a, identity.Object{OrgID: r.HolderOrgID, Region: r.Region, UserID: raiser}) == nil
}

// text checks a free-text field's length in characters.
func text(field, v string, minLen, maxLen int) (string, error) {
	v = strings.TrimSpace(v)
	n := len([]rune(v))
	if n == 0 {
		return "", apperr.New(apperr.Invalid, "governance.required", "field", "@governance.field."+field).OnField(field)
	}
	if n < minLen {
		return "", apperr.New(apperr.Invalid, "governance.too_short", "field", "@governance.field."+field, "min", strconv.Itoa(minLen)).OnField(field)
	}
	if n > maxLen {
		return "", apperr.New(apperr.Invalid, "governance.too_long", "field", "@governance.field."+field, "max", strconv.Itoa(maxLen)).OnField(field)
	}
	return v, nil
}

// refAlphabet leaves out letters read as digits (I, L, O, U).
const refAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newRef makes a case's reference number: the year and ten random
// characters, unguessable so that only its holder can follow the case.
func newRef(at time.Time) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = refAlphabet[int(c)%len(refAlphabet)]
	}
	return fmt.Sprintf("JC%d-%s", at.In(shanghai).Year(), out)
}
