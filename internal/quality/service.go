package quality

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
)

// Resources finds registered resources and their loaded versions (the
// registry and supply, adapted by the caller).
type Resources interface {
	Resource(ctx context.Context, id int64) (Resource, error)
	// Latest returns the resource's newest loaded version; reference rules
	// check against it.
	Latest(ctx context.Context, id int64) (Target, error)
}

// Service keeps rules, runs them and keeps their results.
type Service struct {
	db        *store.DB
	log       *audit.Log
	dom       Domain
	resources Resources
	regions   *region.Table
	now       func() time.Time
}

// NewService wires a quality service; regions is the table the
// authorization decision checks a resource's region against.
func NewService(db *store.DB, log *audit.Log, dom Domain, resources Resources, regions *region.Table, now func() time.Time) *Service {
	return &Service{db: db, log: log, dom: dom, resources: resources, regions: regions, now: now}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// RuleSet is a stored version of a resource's rules.
type RuleSet struct {
	ResourceID int64     `json:"resource_id"`
	Version    int       `json:"version"`
	Rules      Rules     `json:"rules"`
	SetBy      int64     `json:"set_by"`
	SetByLogin string    `json:"set_by_login"`
	SetAt      time.Time `json:"set_at"`
}

func entry(p identity.Principal, action string, resourceID int64) audit.Entry {
	actor := p.Actor()
	if actor.Login == "" {
		actor = audit.System
	}
	return audit.Entry{Actor: actor, Action: action, ObjectType: "resource", ObjectID: strconv.FormatInt(resourceID, 10)}
}

// mayManage says whether p may declare and run a resource's rules: users
// of the holding department, and the agency and the data authority (which
// runs quality monitoring, R6.2) of the holder's region or a region
// containing it (R4.1).
func (s *Service) mayManage(p identity.Principal, r Resource) bool {
	return identity.Authorize(s.regions, p, identity.ActQualityManage, identity.Object{OrgID: r.HolderOrgID, Region: r.Region}) == nil
}

// maySeeSamples says whether p may read failing rows: only the holding
// department's users and the agency of its region (or above); never
// operators, never another department, never a city body on a provincial
// resource.
func (s *Service) maySeeSamples(p identity.Principal, r Resource) bool {
	return identity.Authorize(s.regions, p, identity.ActQualitySamples, identity.Object{OrgID: r.HolderOrgID, Region: r.Region}) == nil
}

// MayManage and MaySeeSamples report what p may do on a resource's quality
// (the console shows its forms and samples only then); they record
// nothing, the actions themselves check and audit again.
func (s *Service) MayManage(ctx context.Context, p identity.Principal, id int64) bool {
	r, err := s.resources.Resource(ctx, id)
	return err == nil && s.mayManage(p, r)
}

// MaySeeSamples: see MayManage.
func (s *Service) MaySeeSamples(ctx context.Context, p identity.Principal, id int64) bool {
	r, err := s.resources.Resource(ctx, id)
	return err == nil && s.maySeeSamples(p, r)
}

// resource loads a resource and checks p may manage it; refusals are audited.
func (s *Service) resource(ctx context.Context, p identity.Principal, action string, id int64) (Resource, error) {
	e := entry(p, action, id)
	r, err := s.resources.Resource(ctx, id)
	if err != nil {
		return Resource{}, s.log.Refuse(ctx, e, err)
	}
	if p.UserID == 0 {
		return Resource{}, s.log.Refuse(ctx, e, apperr.New(apperr.Unauthenticated, "identity.login_required"))
	}
	if !s.mayManage(p, r) {
		return Resource{}, s.log.Refuse(ctx, e, apperr.New(apperr.Forbidden, "quality.forbidden", "resource", r.Code))
	}
	return r, nil
}

// SetRules validates and stores a new version of a resource's rules. When
// the resource has a loaded version, the rules are also checked against
// its columns, so a misspelt column is caught now rather than at the next
// run. Referenced resources must exist and be loaded.
func (s *Service) SetRules(ctx context.Context, p identity.Principal, resourceID int64, rs Rules) (RuleSet, error) {
	r, err := s.resource(ctx, p, ActionSetRules, resourceID)
	if err != nil {
		return RuleSet{}, err
	}
	e := entry(p, ActionSetRules, resourceID)
	rs.normalize()
	e.Set("rules", len(rs.Rules))
	if err := rs.Validate(); err != nil {
		return RuleSet{}, s.log.Refuse(ctx, e, err)
	}
	env, err := s.env(ctx, r, rs)
	if err != nil {
		return RuleSet{}, s.log.Refuse(ctx, e, err)
	}
	if latest, err := s.resources.Latest(ctx, resourceID); err == nil && latest.Table != "" {
		if _, err := compile(ctx, s.dom, rs, latest.Table, env); err != nil {
			return RuleSet{}, s.log.Refuse(ctx, e, err)
		}
	}
	body, err := json.Marshal(rs)
	if err != nil {
		return RuleSet{}, s.log.Refuse(ctx, e, err)
	}
	set := RuleSet{ResourceID: resourceID, Rules: rs, SetBy: p.UserID, SetByLogin: p.Login, SetAt: s.clock()}
	err = s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) + 1 FROM quality_rules WHERE resource_id = ?", resourceID).Scan(&set.Version); err != nil {
			return fmt.Errorf("next rules version of resource %d: %w", resourceID, err)
		}
		e.Set("version", set.Version)
		_, err := tx.Exec(ctx, `INSERT INTO quality_rules (resource_id, version, holder_org_id, rule_count, schedule, rules_json,
			set_by, set_by_login, set_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			resourceID, set.Version, r.HolderOrgID, len(rs.Rules), rs.Schedule, string(body), p.UserID, p.Login, set.SetAt)
		if err != nil {
			return fmt.Errorf("store rules of resource %d: %w", resourceID, err)
		}
		return nil
	})
	if err != nil {
		return RuleSet{}, err
	}
	return set, nil
}

// Rules returns the resource's current rules, or a NotFound error.
func (s *Service) Rules(ctx context.Context, resourceID int64) (RuleSet, error) {
	var set RuleSet
	var body string
	err := s.db.QueryRow(ctx, `SELECT version, rules_json, set_by, set_by_login, set_at FROM quality_rules
		WHERE resource_id = ? ORDER BY version DESC LIMIT 1`, resourceID).Scan(&set.Version, &body, &set.SetBy, &set.SetByLogin, &set.SetAt)
	if errors.Is(err, sql.ErrNoRows) {
		return RuleSet{}, apperr.New(apperr.NotFound, "quality.no_rules").Wrap(ErrNoRules)
	}
	if err != nil {
		return RuleSet{}, fmt.Errorf("rules of resource %d: %w", resourceID, err)
	}
	if err := json.Unmarshal([]byte(body), &set.Rules); err != nil {
		return RuleSet{}, fmt.Errorf("rules of resource %d: %w", resourceID, err)
	}
	set.ResourceID, set.SetAt = resourceID, set.SetAt.UTC()
	return set, nil
}

// env resolves what a check needs beyond the table: referenced resources'
// latest tables and the update frequency.
func (s *Service) env(ctx context.Context, r Resource, rs Rules) (Env, error) {
	env := Env{Frequency: r.Frequency, RefTables: map[int64]string{}, Now: s.now()}
	for _, rule := range rs.Rules {
		if rule.Type != Reference {
			continue
		}
		if _, done := env.RefTables[rule.Resource]; done {
			continue
		}
		ref, err := s.resources.Resource(ctx, rule.Resource)
		if err != nil {
			return Env{}, apperr.New(apperr.Invalid, "quality.reference_unknown", "rule", rule.ID,
				"resource", strconv.FormatInt(rule.Resource, 10)).Wrap(err)
		}
		// A reference reads the referenced table, and its failing rows
		// tell which values that table lacks: a department checks against
		// its own resources only, never another department's data.
		if ref.HolderOrgID != r.HolderOrgID {
			return Env{}, apperr.New(apperr.Forbidden, "quality.reference_foreign", "rule", rule.ID, "resource", ref.Code)
		}
		t, err := s.resources.Latest(ctx, rule.Resource)
		if err != nil || t.Table == "" {
			return Env{}, apperr.New(apperr.Invalid, "quality.reference_not_loaded", "rule", rule.ID,
				"resource", strconv.FormatInt(rule.Resource, 10)).Wrap(err)
		}
		env.RefTables[rule.Resource] = t.Table
	}
	return env, nil
}

// Run is one stored run.
type Run struct {
	ID           int64            `json:"id"`
	ResourceID   int64            `json:"resource_id"`
	RulesVersion int              `json:"rules_version"`
	Table        string           `json:"table"`
	DataVersion  int              `json:"data_version"`
	Trigger      Trigger          `json:"trigger"`
	Status       string           `json:"status"` // ok or failed
	Error        string           `json:"error,omitempty"`
	Rows         int64            `json:"rows"`
	Score        float64          `json:"score"`
	Scans        int              `json:"scans"`
	RunByLogin   string           `json:"run_by"`
	StartedAt    time.Time        `json:"started_at"`
	FinishedAt   time.Time        `json:"finished_at"`
	Results      []Result         `json:"results,omitempty"`
	Dimensions   []DimensionScore `json:"dimensions,omitempty"`
}

// Run statuses.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
)

// Run checks a loaded version against the resource's current rules and
// stores the results, the samples apart, and the audit entry in one
// transaction. A run that cannot finish (a column gone, the engine down)
// is stored as failed with its reason, so the schedule does not retry it
// every tick and the console shows why. Triggers load and schedule are
// the platform's own: p may be the zero Principal (the system) and is not
// checked; a manual run is the holding department's, the agency's or the
// authority's. The returned Run holds no samples.
func (s *Service) Run(ctx context.Context, p identity.Principal, resourceID int64, t Target, trigger Trigger) (Run, error) {
	e := entry(p, ActionRun, resourceID)
	e.Set("trigger", string(trigger))
	e.Set("table", t.Table)
	if !trigger.valid() {
		return Run{}, s.log.Refuse(ctx, e, apperr.New(apperr.Invalid, "quality.bad_trigger", "trigger", string(trigger)))
	}
	var r Resource
	var err error
	if trigger == TriggerManual {
		r, err = s.resource(ctx, p, ActionRun, resourceID)
		if err != nil {
			return Run{}, err
		}
	} else if r, err = s.resources.Resource(ctx, resourceID); err != nil {
		return Run{}, s.log.Refuse(ctx, e, err)
	}
	set, err := s.Rules(ctx, resourceID)
	if err != nil {
		return Run{}, s.log.Refuse(ctx, e, err)
	}
	run := Run{ResourceID: resourceID, RulesVersion: set.Version, Table: t.Table, DataVersion: t.Version, Trigger: trigger,
		RunByLogin: e.Actor.Login, StartedAt: s.clock()}
	e.Set("rules_version", set.Version)
	env, err := s.env(ctx, r, set.Rules)
	var rep Report
	if err == nil {
		rep, err = Check(ctx, s.dom, set.Rules, t, env)
	}
	run.FinishedAt = s.clock()
	if err != nil {
		if ctx.Err() != nil {
			return Run{}, s.log.Refuse(ctx, e, fmt.Errorf("quality run of %s: %w", t.Table, err))
		}
		run.Status, run.Error = StatusFailed, "internal"
		if ae, ok := apperr.As(err); ok {
			run.Error = ae.Key
		}
		e.Set("error", err.Error())
	} else {
		run.Status, run.Rows, run.Score, run.Scans = StatusOK, rep.Rows, rep.Score, rep.Scans
		run.Results, run.Dimensions = rep.Results, rep.Dimensions
	}
	err = s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		if err := s.insertRun(ctx, tx, &run, r.HolderOrgID, p, rep.Samples); err != nil {
			return err
		}
		e.Set("run", run.ID)
		e.Set("status", run.Status)
		e.Set("score", run.Score)
		e.Set("rows", run.Rows)
		failed := 0
		for _, res := range run.Results {
			if res.Failed > 0 {
				failed++
			}
		}
		e.Set("rules_failed", failed)
		// How many failing rows were kept, never their values.
		e.Set("samples", len(rep.Samples))
		return nil
	})
	if err != nil {
		return Run{}, err
	}
	return run, nil
}

func (s *Service) insertRun(ctx context.Context, tx *store.Tx, run *Run, holder int64, p identity.Principal, samples []Sample) error {
	var err error
	run.ID, err = tx.InsertID(ctx, `INSERT INTO quality_runs (resource_id, holder_org_id, rules_version, table_name, data_version,
		trigger_kind, status, error, row_count, score, scans, run_by, run_by_login, started_at, finished_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		run.ResourceID, holder, run.RulesVersion, run.Table, run.DataVersion, string(run.Trigger), run.Status, run.Error,
		run.Rows, run.Score, run.Scans, p.UserID, run.RunByLogin, run.StartedAt, run.FinishedAt)
	if err != nil {
		return fmt.Errorf("store quality run of resource %d: %w", run.ResourceID, err)
	}
	for i, r := range run.Results {
		cols, _ := json.Marshal(r.Columns)
		if _, err := tx.Exec(ctx, `INSERT INTO quality_results (run_id, position, rule_id, rule_type, dimension, columns_json,
			checked, failed, pass_ratio, latest, max_age_days) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			run.ID, i, r.RuleID, string(r.Type), string(r.Dimension), string(cols), r.Checked, r.Failed, r.PassRatio,
			r.Latest, r.MaxAgeDays); err != nil {
			return fmt.Errorf("store result %s: %w", r.RuleID, err)
		}
	}
	for _, d := range run.Dimensions {
		if _, err := tx.Exec(ctx, "INSERT INTO quality_dimensions (run_id, dimension, rules, pass_ratio) VALUES (?, ?, ?, ?)",
			run.ID, string(d.Dimension), d.Rules, d.PassRatio); err != nil {
			return fmt.Errorf("store dimension %s: %w", d.Dimension, err)
		}
	}
	for i, sm := range samples {
		if _, err := tx.Exec(ctx, `INSERT INTO quality_samples (run_id, position, holder_org_id, rule_id, key_value, value, occurrences)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, run.ID, i, holder, sm.RuleID, sm.Key, sm.Value, sm.Count); err != nil {
			return fmt.Errorf("store sample of %s: %w", sm.RuleID, err)
		}
	}
	return nil
}

// Samples returns the failing rows a run kept. Only the holding
// department's users and the agency may read them; everyone else, operators
// above all, gets a Forbidden error. Reads and refusals are audited.
func (s *Service) Samples(ctx context.Context, p identity.Principal, runID int64) ([]Sample, error) {
	var resourceID, holder int64
	err := s.db.QueryRow(ctx, "SELECT resource_id, holder_org_id FROM quality_runs WHERE id = ?", runID).Scan(&resourceID, &holder)
	e := entry(p, ActionReadSamples, resourceID)
	e.Set("run", runID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.log.Refuse(ctx, e, apperr.New(apperr.NotFound, "quality.no_run", "run", strconv.FormatInt(runID, 10)))
	}
	if err != nil {
		return nil, s.log.Refuse(ctx, e, fmt.Errorf("quality run %d: %w", runID, err))
	}
	if p.UserID == 0 {
		return nil, s.log.Refuse(ctx, e, apperr.New(apperr.Unauthenticated, "identity.login_required"))
	}
	r, err := s.resources.Resource(ctx, resourceID)
	if err != nil {
		return nil, s.log.Refuse(ctx, e, err)
	}
	// The run's own holder is what was checked when it ran.
	r.HolderOrgID = holder
	if !s.maySeeSamples(p, r) {
		return nil, s.log.Refuse(ctx, e, apperr.New(apperr.Forbidden, "quality.samples_forbidden"))
	}
	var out []Sample
	err = s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		rows, err := tx.Query(ctx, `SELECT rule_id, key_value, value, occurrences FROM quality_samples
			WHERE run_id = ? ORDER BY position`, runID)
		if err != nil {
			return fmt.Errorf("samples of run %d: %w", runID, err)
		}
		defer rows.Close()
		for rows.Next() {
			var sm Sample
			if err := rows.Scan(&sm.RuleID, &sm.Key, &sm.Value, &sm.Count); err != nil {
				return err
			}
			out = append(out, sm)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		e.Set("samples", len(out))
		return nil
	})
	return out, err
}

const runColumns = `id, resource_id, rules_version, table_name, data_version, trigger_kind, status, error, row_count, score,
	scans, run_by_login, started_at, finished_at`

func scanRun(sc func(...any) error) (Run, error) {
	var r Run
	var trigger string
	if err := sc(&r.ID, &r.ResourceID, &r.RulesVersion, &r.Table, &r.DataVersion, &trigger, &r.Status, &r.Error, &r.Rows,
		&r.Score, &r.Scans, &r.RunByLogin, &r.StartedAt, &r.FinishedAt); err != nil {
		return Run{}, err
	}
	r.Trigger, r.StartedAt, r.FinishedAt = Trigger(trigger), r.StartedAt.UTC(), r.FinishedAt.UTC()
	return r, nil
}

// RunByID returns a stored run with its results and dimensions (no samples).
func (s *Service) RunByID(ctx context.Context, runID int64) (Run, error) {
	r, err := scanRun(s.db.QueryRow(ctx, "SELECT "+runColumns+" FROM quality_runs WHERE id = ?", runID).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, apperr.New(apperr.NotFound, "quality.no_run", "run", strconv.FormatInt(runID, 10))
	}
	if err != nil {
		return Run{}, fmt.Errorf("quality run %d: %w", runID, err)
	}
	return r, s.details(ctx, &r)
}

func (s *Service) details(ctx context.Context, r *Run) error {
	rows, err := s.db.Query(ctx, `SELECT rule_id, rule_type, dimension, columns_json, checked, failed, pass_ratio, latest, max_age_days
		FROM quality_results WHERE run_id = ? ORDER BY position`, r.ID)
	if err != nil {
		return fmt.Errorf("results of run %d: %w", r.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var res Result
		var typ, dim, cols string
		if err := rows.Scan(&res.RuleID, &typ, &dim, &cols, &res.Checked, &res.Failed, &res.PassRatio, &res.Latest, &res.MaxAgeDays); err != nil {
			return err
		}
		res.Type, res.Dimension = Type(typ), Dimension(dim)
		if err := json.Unmarshal([]byte(cols), &res.Columns); err != nil {
			return err
		}
		r.Results = append(r.Results, res)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	dims, err := s.dimensions(ctx, r.ID)
	r.Dimensions = dims
	return err
}

func (s *Service) dimensions(ctx context.Context, runID int64) ([]DimensionScore, error) {
	rows, err := s.db.Query(ctx, "SELECT dimension, rules, pass_ratio FROM quality_dimensions WHERE run_id = ?", runID)
	if err != nil {
		return nil, fmt.Errorf("dimensions of run %d: %w", runID, err)
	}
	defer rows.Close()
	by := map[Dimension]DimensionScore{}
	for rows.Next() {
		var d DimensionScore
		var name string
		if err := rows.Scan(&name, &d.Rules, &d.PassRatio); err != nil {
			return nil, err
		}
		d.Dimension = Dimension(name)
		by[d.Dimension] = d
	}
	var out []DimensionScore
	for _, d := range Dimensions() {
		if x, ok := by[d]; ok {
			out = append(out, x)
		}
	}
	return out, rows.Err()
}

// LatestScore returns the resource's newest successful run with its
// results, or a NotFound error. The score and dimensions are public (the
// resource page shows them); samples are not part of it.
func (s *Service) LatestScore(ctx context.Context, resourceID int64) (Run, error) {
	r, err := scanRun(s.db.QueryRow(ctx, "SELECT "+runColumns+` FROM quality_runs
		WHERE resource_id = ? AND status = 'ok' ORDER BY id DESC LIMIT 1`, resourceID).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, apperr.New(apperr.NotFound, "quality.no_score")
	}
	if err != nil {
		return Run{}, fmt.Errorf("latest quality run of resource %d: %w", resourceID, err)
	}
	return r, s.details(ctx, &r)
}

// Point is one successful run on a trend chart.
type Point struct {
	RunID      int64                 `json:"run_id"`
	At         time.Time             `json:"at"`
	Score      float64               `json:"score"`
	Dimensions map[Dimension]float64 `json:"dimensions"`
}

// Trend returns the resource's last n successful runs, oldest first.
func (s *Service) Trend(ctx context.Context, resourceID int64, n int) ([]Point, error) {
	if n <= 0 {
		n = 30
	}
	rows, err := s.db.Query(ctx, `SELECT id, finished_at, score FROM quality_runs WHERE resource_id = ? AND status = 'ok'
		ORDER BY id DESC LIMIT ?`, resourceID, n)
	if err != nil {
		return nil, fmt.Errorf("quality trend of resource %d: %w", resourceID, err)
	}
	var pts []Point
	for rows.Next() {
		var pt Point
		if err := rows.Scan(&pt.RunID, &pt.At, &pt.Score); err != nil {
			rows.Close()
			return nil, err
		}
		pt.At = pt.At.UTC()
		pts = append(pts, pt)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range pts {
		dims, err := s.dimensions(ctx, pts[i].RunID)
		if err != nil {
			return nil, err
		}
		pts[i].Dimensions = map[Dimension]float64{}
		for _, d := range dims {
			pts[i].Dimensions[d.Dimension] = d.PassRatio
		}
	}
	for i, j := 0, len(pts)-1; i < j; i, j = i+1, j-1 {
		pts[i], pts[j] = pts[j], pts[i]
	}
	return pts, nil
}

// DepartmentScore is a holding department's quality: the mean of the
// latest scores of its resources that have one (R19.1 input).
type DepartmentScore struct {
	OrgID     int64   `json:"org_id"`
	Resources int     `json:"resources"`
	Score     float64 `json:"score"`
}

// DepartmentScores returns every department with a scored resource,
// ordered by organisation.
func (s *Service) DepartmentScores(ctx context.Context) ([]DepartmentScore, error) {
	rows, err := s.db.Query(ctx, `SELECT r.holder_org_id, COUNT(*), AVG(r.score) FROM quality_runs r
		WHERE r.status = 'ok' AND r.id = (SELECT MAX(x.id) FROM quality_runs x WHERE x.resource_id = r.resource_id AND x.status = 'ok')
		GROUP BY r.holder_org_id ORDER BY r.holder_org_id`)
	if err != nil {
		return nil, fmt.Errorf("department quality scores: %w", err)
	}
	defer rows.Close()
	var out []DepartmentScore
	for rows.Next() {
		var d DepartmentScore
		if err := rows.Scan(&d.OrgID, &d.Resources, &d.Score); err != nil {
			return nil, err
		}
		d.Score = float64(int64(d.Score*10+0.5)) / 10
		out = append(out, d)
	}
	return out, rows.Err()
}

// Due lists the resources whose scheduled run is due at now: those with
// rules on a schedule other than off whose last run (of any trigger and
// status) started a schedule period or more before now, or never ran, or
// ran under older rules. The caller runs them with TriggerSchedule on
// their latest loaded version; this package starts no goroutine.
func (s *Service) Due(ctx context.Context, now time.Time) ([]int64, error) {
	// The latest run is joined by its id so its columns keep their types
	// (an aggregate of a timestamp comes back from SQLite as text).
	rows, err := s.db.Query(ctx, `SELECT q.resource_id, q.version, q.schedule, r.started_at, r.rules_version
		FROM quality_rules q
		LEFT JOIN quality_runs r ON r.id = (SELECT MAX(x.id) FROM quality_runs x WHERE x.resource_id = q.resource_id)
		WHERE q.rule_count > 0 AND q.version = (SELECT MAX(y.version) FROM quality_rules y WHERE y.resource_id = q.resource_id)
		ORDER BY q.resource_id`)
	if err != nil {
		return nil, fmt.Errorf("due quality runs: %w", err)
	}
	defer rows.Close()
	var due []int64
	for rows.Next() {
		var id int64
		var version int
		var schedule string
		var last sql.NullTime
		var lastVersion sql.NullInt64
		if err := rows.Scan(&id, &version, &schedule, &last, &lastVersion); err != nil {
			return nil, err
		}
		period := schedules[schedule]
		switch {
		case period == 0:
		case !last.Valid, lastVersion.Int64 < int64(version), !now.Before(last.Time.Add(period)):
			due = append(due, id)
		}
	}
	return due, rows.Err()
}
