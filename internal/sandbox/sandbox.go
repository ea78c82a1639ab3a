// Package sandbox owns the operator's side of 原始数据不出域、数据可用不可见
// (R12.1): workspaces bound to one active agreement, the catalog of the
// resources in scope with their column roles and analysis rules (derived
// from tags, grade and privacy unit, adjusted by the agency), mock data,
// and the submission of queries: scope check, policy check and rewrite, the
// per-agreement ε ledger, execution in the domain under the agreement's
// context and the engine's limits, noise, the output gate, automatic
// release or the agency's review, signed manifests, the fusion-risk halt
// (R15.6) and one audit entry per submission. It never lets a row leave
// that the policy and the output gate have not passed, and it never
// decides who holds an agreement (grant does) or what a column is (supply
// tags it).
package sandbox

import (
	"context"
	"crypto/ed25519"
	"io"
	"math/big"
	"strconv"
	"sync"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/policy"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/supply"
)

// Grants is the part of grant the sandbox relies on; *grant.Service has it.
type Grants interface {
	Authorize(ctx context.Context, operatorOrgID, resourceID int64, purpose string, at time.Time) error
	Work(ctx context.Context, operatorOrgID, agreementID int64) (context.Context, context.CancelFunc, error)
	Agreement(ctx context.Context, p identity.Principal, id int64) (grant.Agreement, error)
}

// Resources describes registered resources (the registry, as for grant).
type Resources interface {
	Resource(ctx context.Context, id int64) (grant.ResourceFacts, error)
}

// Supply is what the sandbox reads of loaded resources; *supply.Service has it.
type Supply interface {
	Latest(ctx context.Context, resourceID int64) (supply.Version, error)
	Tags(ctx context.Context, resourceID int64) ([]supply.ColumnTag, error)
	PrivacyUnit(ctx context.Context, resourceID int64) (string, error)
	Profiles(ctx context.Context, versionID int64) ([]supply.ColumnProfile, error)
}

// Options tune the service; the zero value is the platform's setting.
type Options struct {
	// Budget is each agreement's total ε (default 10); QueryEpsilon what
	// one query under the DP rule spends (default 1/2); Delta its δ
	// (default 1e-6).
	Budget, QueryEpsilon, Delta *big.Rat
	// Limits bound each query in the domain (engine defaults).
	Limits engine.Limits
	// ReleaseRows and ReleaseBytes: larger results are held for the
	// agency's review (defaults 1000 rows, 256 KiB); MaxBytes: larger
	// results are refused (default 4 MiB).
	ReleaseRows            int
	ReleaseBytes, MaxBytes int
	// MockRows is the size of a mock table (default 500); RareCount hides
	// categories seen fewer times than this from mock data (default 10).
	MockRows, RareCount int
	// Random feeds the DP samplers (crypto/rand.Reader when nil).
	Random io.Reader
	// ExactThreshold counts the distinct units of every group on every
	// query instead of settling the threshold by rows where the units'
	// statistics allow (policy.FastPlan); for comparison and tests.
	ExactThreshold bool
}

func (o Options) withDefaults() Options {
	if o.Budget == nil {
		o.Budget = big.NewRat(10, 1)
	}
	if o.QueryEpsilon == nil {
		o.QueryEpsilon = big.NewRat(1, 2)
	}
	if o.Delta == nil {
		o.Delta = big.NewRat(1, 1_000_000)
	}
	if o.ReleaseRows <= 0 {
		o.ReleaseRows = 1000
	}
	if o.ReleaseBytes <= 0 {
		o.ReleaseBytes = 256 << 10
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 4 << 20
	}
	if o.MockRows <= 0 {
		o.MockRows = 500
	}
	if o.RareCount <= 0 {
		o.RareCount = 10
	}
	return o
}

// Service runs workspaces and submissions.
type Service struct {
	db        *store.DB
	log       *audit.Log
	grants    Grants
	resources Resources
	supply    Supply
	runner    *engine.Runner
	mock      *engine.Mock
	key       ed25519.PrivateKey
	now       func() time.Time
	opt       Options

	// randMu serialises the DP samplers' reader, which need not be safe
	// for concurrent use.
	randMu sync.Mutex

	// unitRows caches each relation's unit statistics (MeasureUnitRows).
	unitMu   sync.Mutex
	unitRows map[unitRowsKey]policy.UnitRows
	colStats map[unitRowsKey]columnStats
}

// New returns the service. runner runs real queries in the domain, mock
// holds mock tables; key signs release manifests (see LoadKey).
func New(db *store.DB, log *audit.Log, grants Grants, resources Resources, sup Supply, runner *engine.Runner,
	mock *engine.Mock, key ed25519.PrivateKey, now func() time.Time, opt Options) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, log: log, grants: grants, resources: resources, supply: sup, runner: runner, mock: mock,
		key: key, now: now, opt: opt.withDefaults()}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// PublicKey is the key release manifests verify with.
func (s *Service) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Audit actions of the sandbox.
const (
	ActionCreateWorkspace = "sandbox.create_workspace"
	ActionSetPolicy       = "sandbox.set_policy"
	ActionSubmit          = "sandbox.submit"
	ActionApprove         = "sandbox.approve"
	ActionReject          = "sandbox.reject"
	ActionHalt            = "sandbox.halt"
	ActionResume          = "sandbox.resume"
	// Reads refused to someone who may not see the workspace or job.
	ActionReadWorkspace = "sandbox.read_workspace"
	ActionReadJobs      = "sandbox.read_jobs"
	ActionReadJob       = "sandbox.read_job"
	ActionReviewQueue   = "sandbox.review_queue"
)

// Message keys of the sandbox's own refusals (internal/i18n "sandbox.").
const (
	KeyNotFound   = "sandbox.not_found"
	KeyForbidden  = "sandbox.forbidden"
	KeyBadName    = "sandbox.bad_name"
	KeyNameTaken  = "sandbox.name_taken"
	KeyHalted     = "sandbox.halted"
	KeyNotHalted  = "sandbox.not_halted"
	KeyBadTarget  = "sandbox.bad_target"
	KeyBudget     = "sandbox.budget_exceeded"
	KeyFusionRisk = "sandbox.fusion_risk"
	// KeyNeedsException: a threshold rule on person-level data needs a
	// recorded reason.
	KeyNeedsException = "sandbox.threshold_exception"
	KeyTooLarge       = "sandbox.too_large"
	KeyTimeout        = "sandbox.timeout"
	KeyTooManyRows    = "sandbox.too_many_rows"
	KeyNotHeld        = "sandbox.not_held"
	KeyReasonRequired = "sandbox.reason_required"
	KeyMockSelectOnly = "sandbox.mock_select_only"
	KeyBadPolicy      = "sandbox.bad_policy"
	KeyNoTables       = "sandbox.no_tables"
	KeyStopped        = "sandbox.stopped"
	KeyEngine         = "sandbox.engine_error"
	KeyDomainBusy     = "sandbox.domain_busy"
)

// forbid refuses p an action on an object it may not touch, audited.
func (s *Service) forbid(ctx context.Context, p identity.Principal, action, objectType string, id int64) error {
	e := audit.Entry{Actor: p.Actor(), Action: action, ObjectType: objectType, ObjectID: strconv.FormatInt(id, 10)}
	return s.log.Refuse(ctx, e, apperr.New(apperr.Forbidden, KeyForbidden))
}
