package grant

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
)

// Outcome is what a collective decision resolved.
type Outcome string

const (
	Approved Outcome = "approved" // 审议通过
	Rejected Outcome = "rejected" // 未通过
)

// Decision is the record of a 三重一大 collective decision: the
// government's on a plan (R9.1), the agency's on an agreement (R11.1). Its
// rationale is kept so that a later due-diligence review can see what was
// known when (R21.1).
type Decision struct {
	// Meeting names the meeting, e.g. 南昌市人民政府第12次常务会议.
	Meeting string    `json:"meeting"`
	Date    time.Time `json:"date"` // the day of the meeting
	Outcome Outcome   `json:"outcome"`
	// MinutesRef points at the minutes (document number or file name) and
	// MinutesHash, when given, is the hex SM3 or SHA-256 of the file.
	MinutesRef  string `json:"minutes_ref"`
	MinutesHash string `json:"minutes_hash,omitempty"`
	Rationale   string `json:"rationale"`
	// RecordedBy is the login of who entered the record.
	RecordedBy string `json:"recorded_by,omitempty"`
}

// validate checks the record and normalizes it; notBefore is the earliest
// day the meeting can have been (the submission), now the clock.
func (d *Decision) validate(notBefore, now time.Time) error {
	var err error
	if d.Meeting, err = text("meeting", d.Meeting, 2, 200); err != nil {
		return err
	}
	if d.Date.IsZero() {
		return apperr.New(apperr.Invalid, "grant.field_required", "field", "@grant.field.decision_date").OnField("decision_date")
	}
	d.Date = time.Date(d.Date.Year(), d.Date.Month(), d.Date.Day(), 0, 0, 0, 0, time.UTC)
	if d.Date.After(Day(now)) {
		return apperr.New(apperr.Invalid, "grant.decision_in_future").OnField("decision_date")
	}
	if !notBefore.IsZero() && d.Date.Before(Day(notBefore)) {
		return apperr.New(apperr.Invalid, "grant.decision_before_submission", "date", formatDay(Day(notBefore))).OnField("decision_date")
	}
	if d.Outcome != Approved && d.Outcome != Rejected {
		return apperr.New(apperr.Invalid, "grant.field_choice", "field", "@grant.field.outcome").OnField("outcome")
	}
	if d.MinutesRef, err = text("minutes_ref", d.MinutesRef, 2, 500); err != nil {
		return err
	}
	d.MinutesHash = strings.ToLower(strings.TrimSpace(d.MinutesHash))
	if d.MinutesHash != "" {
		if b, err := hex.DecodeString(d.MinutesHash); err != nil || len(b) != 32 {
			return apperr.New(apperr.Invalid, "grant.minutes_hash").OnField("minutes_hash")
		}
	}
	if d.Rationale, err = text("rationale", d.Rationale, 4, 10000); err != nil {
		return err
	}
	return nil
}

func decodeDecision(s string) *Decision {
	if s == "" {
		return nil
	}
	var d Decision
	if json.Unmarshal([]byte(s), &d) != nil {
		return nil
	}
	return &d
}
