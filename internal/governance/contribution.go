package governance

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"
)

// Contribution is what one department put in over a period: the inputs of
// the contribution evaluation (R19.1), stored facts only, no weighting.
type Contribution struct {
	OrgID     int64          `json:"org_id"`
	Resources int            `json:"resources"`
	ByGrade   map[string]int `json:"by_grade"`
	// Quality is the mean of the resources' latest quality scores (0–100)
	// over the Scored ones.
	Quality float64 `json:"quality"`
	Scored  int     `json:"scored"`
	// OnTime counts resources whose latest load is within their declared
	// update frequency at the end of the period, of Timed with a frequency.
	OnTime int `json:"on_time"`
	Timed  int `json:"timed"`
	// Cases raised in the period against the department's resources, how
	// many it answered, how many within the deadline, how many were
	// escalated, and the mean working days to an answer.
	Cases        int     `json:"cases"`
	Answered     int     `json:"answered"`
	AnsweredLate int     `json:"answered_late"`
	Escalated    int     `json:"escalated"`
	MeanDays     float64 `json:"mean_answer_working_days"`
}

// ContributionInputs are the other services' facts the figures draw on.
type ContributionInputs struct {
	// Held lists every registered resource.
	Held func(ctx context.Context) ([]Resource, error)
	// Score is a resource's latest quality score, if it has one.
	Score func(ctx context.Context, resourceID int64) (float64, bool, error)
	// LastLoad is when the resource's data was last loaded, if ever.
	LastLoad func(ctx context.Context, resourceID int64) (time.Time, bool, error)
}

// frequencyDays is how old a resource's data may be, per declared update
// frequency, before it counts as late.
var frequencyDays = map[string]int{
	"realtime": 2, "daily": 2, "weekly": 8, "monthly": 32, "quarterly": 93, "semiannual": 184, "annual": 366, "yearly": 366,
}

// Contributions computes each department's inputs for [from, to).
func (s *Service) Contributions(ctx context.Context, in ContributionInputs, from, to time.Time) ([]Contribution, error) {
	held, err := in.Held(ctx)
	if err != nil {
		return nil, fmt.Errorf("contributions: %w", err)
	}
	by := map[int64]*Contribution{}
	get := func(org int64) *Contribution {
		c := by[org]
		if c == nil {
			c = &Contribution{OrgID: org, ByGrade: map[string]int{}}
			by[org] = c
		}
		return c
	}
	for _, r := range held {
		c := get(r.HolderOrgID)
		c.Resources++
		c.ByGrade[r.Grade]++
		if in.Score != nil {
			sc, ok, err := in.Score(ctx, r.ID)
			if err != nil {
				return nil, err
			}
			if ok {
				c.Quality += sc
				c.Scored++
			}
		}
		if days, ok := frequencyDays[r.Frequency]; ok && in.LastLoad != nil {
			c.Timed++
			at, ok, err := in.LastLoad(ctx, r.ID)
			if err != nil {
				return nil, err
			}
			if ok && to.Sub(at) <= time.Duration(days)*24*time.Hour {
				c.OnTime++
			}
		}
	}
	rows, err := s.db.Query(ctx, `SELECT holder_org_id, raised_at, due_on, answered_at, escalated_at FROM gov_cases
		WHERE raised_at >= ? AND raised_at < ?`, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("contributions: %w", err)
	}
	defer rows.Close()
	days := map[int64]int{}
	for rows.Next() {
		var org int64
		var raised, due time.Time
		var answered, escalated sql.NullTime
		if err := rows.Scan(&org, &raised, &due, &answered, &escalated); err != nil {
			return nil, err
		}
		c := get(org)
		c.Cases++
		if escalated.Valid {
			c.Escalated++
		}
		if answered.Valid {
			c.Answered++
			if today(answered.Time).After(due.UTC()) {
				c.AnsweredLate++
			}
			days[org] += s.cal.Between(today(raised), today(answered.Time)).Days
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Contribution, 0, len(by))
	for org, c := range by {
		if c.Scored > 0 {
			c.Quality /= float64(c.Scored)
		}
		if c.Answered > 0 {
			c.MeanDays = float64(days[org]) / float64(c.Answered)
		}
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OrgID < out[j].OrgID })
	return out, nil
}
