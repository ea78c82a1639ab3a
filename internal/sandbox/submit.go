package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/dp"
	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/policy"
	"github.com/gongshu/gongshu/internal/store"
)

// Target says where a query runs.
type Target string

const (
	// Mock runs on generated mock tables, instantly and unrestricted.
	Mock Target = "mock"
	// Real runs in the domain, only through the policy.
	Real Target = "real"
)

// Job statuses.
const (
	Released = "released"
	Held     = "held"
	Refused  = "refused"
	Rejected = "rejected"
)

// Reason says why a query was refused, held or rejected; Key and Args
// render it in the user's language, Message is the English text.
type Reason struct {
	Code    string            `json:"code"`
	Key     string            `json:"key"`
	Args    map[string]string `json:"args,omitempty"`
	Message string            `json:"message"`
}

// Job is one submitted query and its outcome: the shape the API returns.
type Job struct {
	ID           int64     `json:"id"`
	WorkspaceID  int64     `json:"workspace_id"`
	Target       Target    `json:"target"`
	SQL          string    `json:"sql"`
	Fingerprint  string    `json:"fingerprint,omitempty"`
	Status       string    `json:"status"`
	Reason       *Reason   `json:"reason,omitempty"`
	Rule         string    `json:"rule,omitempty"`
	Resources    []string  `json:"resources,omitempty"`
	Columns      []string  `json:"columns,omitempty"`
	Rows         [][]any   `json:"rows,omitempty"`
	EpsilonSpent float64   `json:"epsilon_spent"`
	RowsScanned  int64     `json:"rows_scanned"`
	ResultHash   string    `json:"result_hash,omitempty"`
	Manifest     *Manifest `json:"manifest,omitempty"`
	Signature    string    `json:"signature,omitempty"`
	Recipient    string    `json:"recipient,omitempty"`
	// Privacy states how the result was protected (real runs only).
	Privacy      *Disclosure `json:"privacy,omitempty"`
	ReviewerID   int64       `json:"reviewer_id,omitempty"`
	ReviewReason string      `json:"review_reason,omitempty"`
	ReviewedAt   *time.Time  `json:"reviewed_at,omitempty"`
	CreatedAt    time.Time   `json:"created_at"`

	agreementID, operatorOrgID, userID int64
	epsMicros                          int64
	halt                               string
	// haltDetail is the figures behind a halt, for the agency's audit
	// entry only.
	haltDetail string
	// threshold says how an aggregate's threshold was enforced: "rows"
	// (settled by the unit statistics) or "distinct units".
	threshold string
	// token ties the ledger's reservation to the job before it has an id.
	token string
}

func refusalOf(d policy.Decision) *Reason {
	return &Reason{Code: string(d.Code), Key: d.Key, Args: d.Args, Message: d.Message}
}

// reasonOf turns a sandbox or grant refusal into a Reason; code is the
// key's last part.
func reasonOf(err error) *Reason {
	ae, ok := apperr.As(err)
	if !ok {
		return &Reason{Code: "internal", Key: "error.internal", Message: "internal error"}
	}
	code := ae.Key[strings.LastIndex(ae.Key, ".")+1:]
	return &Reason{Code: code, Key: ae.Key, Args: ae.Args, Message: ae.Error()}
}

// Preview is the dry run of a query: the decision, and what it would cost.
type Preview struct {
	Allowed   bool            `json:"allowed"`
	Reason    *Reason         `json:"reason,omitempty"`
	Rule      string          `json:"rule,omitempty"`
	Analysis  policy.RuleKind `json:"analysis,omitempty"`
	K         int             `json:"k,omitempty"`
	Tables    []string        `json:"tables,omitempty"`
	Resources []string        `json:"resources,omitempty"`
	// Epsilon is the ε the query would spend (0 outside the DP rule).
	Epsilon   float64 `json:"epsilon"`
	Remaining float64 `json:"remaining"`
	// WouldExceed: running it now would be refused for the budget.
	WouldExceed bool   `json:"would_exceed,omitempty"`
	Location    int    `json:"location"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

func (s *Service) submitter(ctx context.Context, p identity.Principal, workspaceID int64) (Workspace, error) {
	w, err := s.workspace(ctx, workspaceID)
	if err != nil {
		return Workspace{}, err
	}
	if p.OrgID != w.OperatorOrgID || !p.Has(identity.RoleOperator) {
		// Refused openly and audited: workspace numbers are sequential,
		// so hiding them would hide nothing.
		return Workspace{}, s.forbid(ctx, p, ActionSubmit, "workspace", workspaceID)
	}
	return w, nil
}

func (s *Service) options() policy.Options {
	return policy.Options{Epsilon: s.opt.QueryEpsilon, Delta: s.opt.Delta}
}

// Validate is the dry run (R12.1): the decision and the exact rule, the
// resources touched and the ε the query would cost, without running it.
func (s *Service) Validate(ctx context.Context, p identity.Principal, workspaceID int64, sqlText string) (Preview, error) {
	w, err := s.submitter(ctx, p, workspaceID)
	if err != nil {
		return Preview{}, err
	}
	rs, err := s.scope(ctx, w)
	if err != nil {
		return Preview{}, err
	}
	plan, d := policy.Rewrite(sqlText, catalog(rs, "main"), s.options())
	pv := Preview{Allowed: d.Allowed, Rule: d.Rule, Analysis: d.Analysis, K: d.K, Tables: d.Tables, Resources: d.Resources,
		Location: d.Location, Fingerprint: d.Fingerprint}
	if !d.Allowed {
		pv.Reason = refusalOf(d)
	}
	b, err := s.Budget(ctx, w.AgreementID)
	if err != nil {
		return Preview{}, err
	}
	pv.Remaining = b.Remaining
	if plan.Noise != nil {
		pv.Epsilon, _ = plan.Noise.Epsilon.Float64()
		pv.WouldExceed = micros(plan.Noise.Epsilon) > b.remainingMicros
	}
	return pv, nil
}

// Submit runs a query of the operator in its workspace, on mock data or,
// through the policy, on the real data, and records it: one audit entry
// per submission, accepted or refused, with the query text, fingerprint,
// decision and rule, resources, rows scanned, ε spent and result hash
// (R12.2). Refusals about the query come back as a Job with status
// refused; the error is for a caller who may not submit here at all and
// for failures of the platform.
func (s *Service) Submit(ctx context.Context, p identity.Principal, workspaceID int64, sqlText string, target Target) (Job, error) {
	w, err := s.submitter(ctx, p, workspaceID)
	if err != nil {
		e := audit.Entry{Actor: p.Actor(), Action: ActionSubmit, ObjectType: "sandbox_workspace", ObjectID: strconv.FormatInt(workspaceID, 10)}
		e.Set("sql", storable(sqlText))
		return Job{}, s.log.Refuse(ctx, e, err)
	}
	job := Job{WorkspaceID: w.ID, Target: target, SQL: sqlText, CreatedAt: s.clock(),
		agreementID: w.AgreementID, operatorOrgID: w.OperatorOrgID, userID: p.UserID}
	text := policy.CheckText(sqlText)
	switch {
	case !text.Allowed:
		job.Status, job.Reason = Refused, refusalOf(text)
	case target != Mock && target != Real:
		job.Status, job.Reason = Refused, reasonOf(apperr.New(apperr.Invalid, KeyBadTarget))
	case w.State == StateHalted:
		job.Status, job.Reason = Refused, reasonOf(apperr.New(apperr.Forbidden, KeyHalted, "reason", w.HaltedReason))
	case target == Mock:
		err = s.runMock(ctx, w, &job)
	default:
		err = s.runReal(ctx, p, w, &job)
	}
	if err != nil {
		job.Status, job.Reason = Refused, reasonOf(err)
		if !apperr.IsCode(err, apperr.Forbidden) && !apperr.IsCode(err, apperr.Invalid) && apperr.CodeOf(err) != apperr.Conflict {
			// A failure of the platform, not a decision: record it as
			// such. A reservation stays spent if the query reached the
			// domain (runReal refunds only what never ran): whether a run
			// fails must not be free to ask.
			job.SQL = storable(job.SQL)
			e := s.entry(p, &job)
			e.Set("error", err.Error())
			return Job{}, s.log.Refuse(ctx, e, err)
		}
	}
	// What is stored and audited is the text as submitted, with what a
	// database cannot hold (NUL, invalid UTF-8) made visible instead.
	job.SQL = storable(job.SQL)
	if err := s.record(ctx, p, &job); err != nil {
		return Job{}, err
	}
	if job.Status == Held {
		// The operator sees that it waits, not what it holds.
		job.Columns, job.Rows = nil, nil
	}
	return job, nil
}

// runReal is the enforced path: scope, policy, budget, run, noise, gates.
func (s *Service) runReal(ctx context.Context, p identity.Principal, w Workspace, job *Job) error {
	rs, err := s.scope(ctx, w)
	if err != nil {
		return err
	}
	plan, d := policy.Rewrite(job.SQL, catalog(rs, "main"), s.options())
	job.Fingerprint, job.Rule, job.Resources = d.Fingerprint, d.Rule, d.Resources
	if !d.Allowed {
		job.Status, job.Reason = Refused, refusalOf(d)
		return nil
	}
	if d.Analysis == policy.RuleAggregation || d.Analysis == policy.RuleDP {
		// The first aggregate on a data version measures how its rows
		// spread over units, so this and later ones may settle the
		// threshold by rows (policy.FastPlan).
		added, err := s.measureUnitRows(ctx, rs, d.Resources)
		if err != nil {
			return fmt.Errorf("measure units: %w", err)
		}
		if added {
			// The statistics can refuse what the first look allowed (a
			// column measured to single out units).
			plan, d = policy.Rewrite(job.SQL, catalog(rs, "main"), s.options())
			if !d.Allowed {
				job.Status, job.Reason = Refused, refusalOf(d)
				return nil
			}
		}
	}
	byCode := map[string]Resource{}
	for _, r := range rs {
		byCode[r.Code] = r
	}
	var touched []Resource
	var relations []string
	for _, code := range d.Resources {
		r := byCode[code]
		// R15.3: every resource the query reads is in scope, for the
		// workspace's purpose, today.
		if err := s.grants.Authorize(ctx, w.OperatorOrgID, r.ID, w.Purpose, s.clock()); err != nil {
			return err
		}
		touched = append(touched, r)
		relations = append(relations, r.relation)
		job.RowsScanned += r.rows
	}
	// R15.6: a join of several departments' data whose output groups
	// would be small means the fusion singles people out: development
	// stops and the agency is told. It is decided from the query's shape
	// and the versions' measured statistics, before anything runs, so
	// that whether it fires says nothing about any row; the operator is
	// told that it fired, the agency why.
	if plan.Analysis == policy.RuleAggregation {
		for _, rel := range plan.Releases {
			risky, why, detail := s.fusionRisk(ctx, plan.K, rel, touched)
			if risky {
				job.halt = fmt.Sprintf("query %s %s", job.Fingerprint, why)
				job.haltDetail = detail
				job.Status, job.Reason = Refused, reasonOf(apperr.New(apperr.Forbidden, KeyFusionRisk))
				return nil
			}
		}
	}
	if plan.Noise != nil {
		if err := s.reserve(ctx, job, plan.Noise.Epsilon); err != nil {
			return err
		}
	}
	// R16.2: the run lives in the agreement's context, so a suspension
	// stops it where it stands.
	wctx, cancel, err := s.grants.Work(ctx, w.OperatorOrgID, w.AgreementID)
	if err != nil {
		s.refund(ctx, job, "not run")
		return err
	}
	defer cancel()
	res, byRows, err := runThreshold(wctx, s.runner, plan, relations, s.opt.Limits)
	if err != nil {
		// No refund: the query read protected data, and a failure that
		// depends on a value (an error, a timeout) is itself an answer.
		// It costs its ε like a released result (PRIVACY.md).
		return s.runError(ctx, wctx, err)
	}
	finite(res.Rows)
	if plan.Analysis == policy.RuleAggregation {
		job.threshold = "distinct units"
		if byRows {
			job.threshold = "rows"
		}
	}
	rows := res.Rows
	if plan.Noise != nil {
		if rows, err = s.addNoise(plan, rows); err != nil {
			return err
		}
	}
	out, od := policy.CheckOutput(plan, res.Columns, rows)
	if !od.Allowed {
		job.Status, job.Reason = Refused, refusalOf(od)
		return nil
	}
	job.Columns, job.Rows = res.Columns[:plan.Columns], out
	job.Privacy = disclose(plan, job.Columns, job.Rows, job.threshold)
	size := resultSize(job.Columns, job.Rows)
	if size > s.opt.MaxBytes {
		job.Columns, job.Rows = nil, nil
		job.Status, job.Reason = Refused, reasonOf(apperr.New(apperr.Invalid, KeyTooLarge, "max", strconv.Itoa(s.opt.MaxBytes)))
		return nil
	}
	job.ResultHash = resultHash(job.Columns, job.Rows)
	job.Status = Released
	important := false
	for _, r := range touched {
		important = important || r.Grade == "important" || r.Grade == "重要" || r.Grade == "重要数据"
	}
	// The hold for size is decided by the query's shape where the
	// statistics bound its groups (a result never has more groups than
	// its keys have value combinations), so that whether a result is held
	// says nothing about which groups passed; the actual size remains the
	// fallback for shapes the estimate cannot bound.
	estimated := s.estimateRows(ctx, plan, touched)
	switch {
	case estimated > int64(s.opt.ReleaseRows) || len(job.Rows) > s.opt.ReleaseRows || size > s.opt.ReleaseBytes:
		job.Status, job.Reason = Held, reasonOf(apperr.New(apperr.Invalid, "sandbox.held_size"))
	case important:
		job.Status, job.Reason = Held, reasonOf(apperr.New(apperr.Invalid, "sandbox.held_grade"))
	case plan.Analysis == policy.RuleList:
		// Rows of data, even public ones, leave only after a person looked.
		job.Status, job.Reason = Held, reasonOf(apperr.New(apperr.Invalid, "sandbox.held_list"))
	}
	return nil
}

// runError tells a stop by the agreement and a timeout from a failure.
func (s *Service) runError(ctx, wctx context.Context, err error) error {
	switch {
	case ctx.Err() == nil && wctx.Err() != nil:
		return apperr.New(apperr.Forbidden, KeyStopped, "cause", fmt.Sprint(context.Cause(wctx))).Wrap(err)
	case errors.Is(err, engine.ErrTimeout):
		return apperr.New(apperr.Invalid, KeyTimeout).Wrap(err)
	case errors.Is(err, engine.ErrTooManyRows):
		return apperr.New(apperr.Invalid, KeyTooManyRows).Wrap(err)
	case errors.Is(err, engine.ErrBusy):
		return apperr.New(apperr.Unavailable, KeyDomainBusy).Wrap(err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("sandbox run: %w", err)
	}
	// The engine's message may quote a value (a failed conversion names
	// it): the operator is told that the query failed, not why.
	return apperr.New(apperr.Invalid, KeyEngine).Wrap(err)
}

// storable is sql with NUL shown as ␀ and invalid UTF-8 as U+FFFD, which
// every store and the audit log keep as they are.
func storable(sql string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(sql, "\uFFFD"), "\x00", "\u2400")
}

// finite replaces values the JSON of a result cannot carry (NaN and
// infinities, which an overflowing expression can make for some rows
// only) with NULL, so that they neither fail the response nor tell
// which rows overflowed.
func finite(rows [][]any) {
	for _, r := range rows {
		for i, v := range r {
			switch x := v.(type) {
			case float64:
				if math.IsNaN(x) || math.IsInf(x, 0) {
					r[i] = nil
				}
			case float32:
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					r[i] = nil
				}
			}
		}
	}
}

// addNoise applies the DP plan: the K floor, noisy partition selection,
// then fresh discrete Laplace noise on each released statistic.
func (s *Service) addNoise(p policy.Plan, rows [][]any) ([][]any, error) {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	r := s.opt.Random
	if r == nil {
		r = rand.Reader
	}
	return noiseRows(dp.NewSampler(r), p, rows)
}

// partitionThreshold is the noisy count a group needs to be released:
// over units, or over rows when the plan's partition column counts rows.
func partitionThreshold(np *policy.NoisePlan) (int64, error) {
	if np.PartitionRows > 0 {
		return dp.PartitionThresholdRows(np.PartitionRows, np.PartitionEpsilon, np.Delta)
	}
	return dp.PartitionThreshold(np.MaxGroupsPerUnit, np.PartitionEpsilon, np.Delta)
}

// noiseRows applies a DP plan's noise to rows with smp.
func noiseRows(smp *dp.Sampler, p policy.Plan, rows [][]any) ([][]any, error) {
	np := p.Noise
	tau, err := partitionThreshold(np)
	if err != nil {
		return nil, fmt.Errorf("dp: %w", err)
	}
	floor := int64(p.K)
	if np.FloorRows > 0 {
		floor = np.FloorRows
	}
	var out [][]any
	for _, row := range rows {
		units, ok := toInt(row[np.PartitionColumn])
		if !ok || units < floor {
			continue
		}
		keep, err := smp.KeepPartition(units, np.MaxGroupsPerUnit, np.PartitionEpsilon, tau)
		if err != nil {
			return nil, fmt.Errorf("dp: %w", err)
		}
		if !keep {
			continue
		}
		row = append([]any(nil), row...)
		for _, c := range np.Columns {
			v, _ := toInt(row[c.Value])
			nv, err := noisy(smp, v, c.Sensitivity, c.Epsilon)
			if err != nil {
				return nil, err
			}
			switch c.Kind {
			case "avg":
				n, _ := toInt(row[c.Count])
				nn, err := noisy(smp, n, c.CountSensitivity, c.Epsilon)
				if err != nil {
					return nil, err
				}
				row[c.Output] = float64(nv) / float64(max(nn, 1))
			case "count":
				row[c.Output] = max(nv, 0)
			default:
				row[c.Output] = nv
			}
		}
		out = append(out, row)
	}
	return out, nil
}

func noisy(smp *dp.Sampler, v, sens int64, eps *big.Rat) (int64, error) {
	scale, err := dp.LaplaceScale(sens, eps)
	if err != nil {
		return 0, fmt.Errorf("dp: %w", err)
	}
	z, err := smp.Laplace(scale)
	if err != nil {
		return 0, fmt.Errorf("dp: %w", err)
	}
	return v + z, nil
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		return int64(x + 0.5), true
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

func resultSize(cols []string, rows [][]any) int {
	b, _ := json.Marshal(struct {
		C []string `json:"columns"`
		R [][]any  `json:"rows"`
	}{cols, rows})
	return len(b)
}

// storedResult is a job's result column: the released rows, how they were
// protected, and the arguments of its reason, so that a job read back
// renders its message whole.
type storedResult struct {
	C []string          `json:"columns,omitempty"`
	R [][]any           `json:"rows,omitempty"`
	P *Disclosure       `json:"privacy,omitempty"`
	A map[string]string `json:"reason_args,omitempty"`
}

// resultHash is SHA-256 over the canonical JSON of the columns and rows.
func resultHash(cols []string, rows [][]any) string {
	b, _ := json.Marshal(struct {
		C []string `json:"columns"`
		R [][]any  `json:"rows"`
	}{cols, rows})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func micros(r *big.Rat) int64 {
	if r == nil {
		return 0
	}
	m := new(big.Rat).Mul(r, big.NewRat(1_000_000, 1))
	n := new(big.Int).Quo(m.Num(), m.Denom())
	if new(big.Rat).SetInt(n).Cmp(m) < 0 {
		n.Add(n, big.NewInt(1)) // round the cost up, never down
	}
	return n.Int64()
}

// entry is the submission's one audit entry.
func (s *Service) entry(p identity.Principal, j *Job) audit.Entry {
	e := audit.Entry{Actor: p.Actor(), Action: ActionSubmit, ObjectType: "sandbox_job", Outcome: audit.OK}
	e.Set("workspace", j.WorkspaceID)
	e.Set("agreement", j.agreementID)
	e.Set("target", string(j.Target))
	e.Set("sql", j.SQL)
	e.Set("fingerprint", j.Fingerprint)
	e.Set("status", j.Status)
	e.Set("rule", j.Rule)
	e.Set("resources", strings.Join(j.Resources, ","))
	e.Set("rows_scanned", j.RowsScanned)
	e.Set("epsilon", float64(j.epsMicros)/1e6)
	e.Set("result_hash", j.ResultHash)
	if j.Reason != nil {
		e.Set("decision", j.Reason.Code)
		if j.Status == Refused {
			e.Outcome, e.Reason = audit.Refused, j.Reason.Key
		}
	} else {
		e.Set("decision", "ok")
	}
	if j.halt != "" {
		e.Set("halt", j.halt)
	}
	if j.threshold != "" {
		e.Set("threshold", j.threshold)
	}
	return e
}

// record stores the job, its manifest when released, the halt of a fusion
// risk, and the one audit entry, in one transaction.
func (s *Service) record(ctx context.Context, p identity.Principal, j *Job) error {
	var result string
	var args map[string]string
	if j.Reason != nil {
		args = j.Reason.Args
	}
	if j.Columns != nil || j.Privacy != nil || len(args) > 0 {
		b, err := json.Marshal(storedResult{C: j.Columns, R: j.Rows, P: j.Privacy, A: args})
		if err != nil {
			return fmt.Errorf("record job: %w", err)
		}
		result = string(b)
	}
	j.EpsilonSpent = float64(j.epsMicros) / 1e6
	reason := ""
	if j.Reason != nil {
		reason = j.Reason.Code
	}
	return s.db.InTx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		id, err := tx.InsertID(ctx, `INSERT INTO sandbox_jobs (workspace_id, agreement_id, operator_org_id, user_id, target, sql_text,
			fingerprint, status, code, rule, resources, epsilon_micros, rows_scanned, result_hash, result, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			j.WorkspaceID, j.agreementID, j.operatorOrgID, j.userID, string(j.Target), j.SQL, j.Fingerprint, j.Status, reason,
			j.Rule, strings.Join(j.Resources, ","), j.epsMicros, j.RowsScanned, j.ResultHash, result, j.CreatedAt)
		if err != nil {
			return fmt.Errorf("record job: %w", err)
		}
		j.ID = id
		if j.epsMicros > 0 {
			if _, err := tx.Exec(ctx, "UPDATE sandbox_ledger SET job_id = ? WHERE agreement_id = ? AND job_id = 0 AND note = ?",
				id, j.agreementID, ledgerNote(j)); err != nil {
				return err
			}
		}
		if j.Status == Released && j.Target == Real {
			if err := s.sign(ctx, tx, j, j.CreatedAt); err != nil {
				return err
			}
		}
		e := s.entry(p, j)
		e.ObjectID = strconv.FormatInt(id, 10)
		if _, err := s.log.Append(ctx, tx, e); err != nil {
			return err
		}
		if j.halt != "" {
			if _, err := tx.Exec(ctx, "UPDATE sandbox_workspaces SET state = ?, halted_reason = ?, halted_at = ?, updated_at = ? WHERE id = ?",
				StateHalted, j.halt, j.CreatedAt, j.CreatedAt, j.WorkspaceID); err != nil {
				return err
			}
			h := audit.Entry{Actor: p.Actor(), Action: ActionHalt, ObjectType: "sandbox_workspace",
				ObjectID: strconv.FormatInt(j.WorkspaceID, 10), Outcome: audit.OK}
			h.Set("job", id)
			h.Set("reason", j.halt)
			h.Set("detail", j.haltDetail)
			h.Set("agreement", j.agreementID)
			if _, err := s.log.Append(ctx, tx, h); err != nil {
				return err
			}
		}
		return nil
	})
}

// runThreshold runs the plan's fast statement when it has one and keeps
// its result if the rows settle the threshold (byRows); otherwise, or
// when no fast statement applies, it runs the plan's own, exact statement.
func runThreshold(ctx context.Context, r *engine.Runner, plan policy.Plan, relations []string, lim engine.Limits) (res engine.Result, byRows bool, err error) {
	if plan.Fast != nil {
		res, err := r.Run(ctx, plan.Fast.SQL, relations, lim)
		if err != nil {
			return engine.Result{}, false, err
		}
		if plan.Fast.Settle(plan, res.Rows) {
			return res, true, nil
		}
	}
	res, err = r.Run(ctx, plan.SQL, relations, lim)
	return res, false, err
}
