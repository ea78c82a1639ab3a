// Package identity owns who is on the platform and what each may do:
// organisations (type, GB/T 2260 region, unified social credit code, the
// authority a lower-level authority files with), users and their roles,
// password hashing and sign-in throttling, console sessions with their CSRF
// tokens, and API tokens. Authorize is the one function that decides
// whether a principal may perform an action on an object; every service
// asks it. Every change and every refusal here is written to the audit log
// in the same transaction. It never renders pages or speaks HTTP.
package identity

import (
	"context"
	"runtime"
	"strconv"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
)

// OrgType is what kind of body an organisation is (第三条, 第四条).
type OrgType string

const (
	OrgAuthority  OrgType = "authority"  // 数据主管部门
	OrgGovernment OrgType = "government" // 县级以上人民政府
	OrgAgency     OrgType = "agency"     // 实施机构
	OrgDepartment OrgType = "department" // 政府部门 holding data
	OrgOperator   OrgType = "operator"   // 运营机构
	OrgUser       OrgType = "user"       // 数据使用方
	OrgRegulator  OrgType = "regulator"  // 网信、公安 …
	OrgUtility    OrgType = "utility"    // 公共企事业单位 (R23.1)
)

// OrgTypes lists every organisation type in display order.
var OrgTypes = []OrgType{OrgAuthority, OrgGovernment, OrgAgency, OrgDepartment, OrgUtility, OrgOperator, OrgUser, OrgRegulator}

// Role is what a user may act as.
type Role string

const (
	RoleAdmin      Role = "admin" // runs the platform: accounts, settings (in the agency, which runs it)
	RoleAuthority  Role = "authority"
	RoleGovernment Role = "government"
	RoleAgency     Role = "agency"
	RoleDepartment Role = "department" // also the data-holding role of utilities (R23.1)
	RoleOperator   Role = "operator"
	RoleUser       Role = "user"
	RoleRegulator  Role = "regulator"
)

// Roles lists every role in display order.
var Roles = []Role{RoleAdmin, RoleAuthority, RoleGovernment, RoleAgency, RoleDepartment, RoleOperator, RoleUser, RoleRegulator}

// rolesFor says which roles a member of each organisation type may hold.
var rolesFor = map[OrgType][]Role{
	OrgAuthority:  {RoleAuthority},
	OrgGovernment: {RoleGovernment},
	OrgAgency:     {RoleAgency, RoleAdmin},
	OrgDepartment: {RoleDepartment},
	OrgUtility:    {RoleDepartment},
	OrgOperator:   {RoleOperator},
	OrgUser:       {RoleUser},
	OrgRegulator:  {RoleRegulator},
}

// Principal is an authenticated caller: the user, its organisation and
// roles, and how it came in.
type Principal struct {
	UserID  int64
	Login   string
	Name    string
	OrgID   int64
	OrgName string
	OrgType OrgType
	Region  string
	Roles   []Role
	// SessionHash is set for console sessions, TokenID for API tokens.
	SessionHash string
	CSRFToken   string
	TokenID     int64
}

// Has reports whether the principal holds role r.
func (p Principal) Has(r Role) bool {
	for _, x := range p.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Actor is the principal as the audit log records it.
func (p Principal) Actor() audit.Actor {
	return audit.Actor{UserID: p.UserID, Login: p.Login, OrgID: p.OrgID}
}

// Options tune a Service; the zero value is the production setting.
type Options struct {
	// Argon2 overrides the password hashing cost (tests lower it).
	Argon2 *Argon2Params
	// Throttle slows down failed sign-ins (zero fields: DefaultThrottle).
	Throttle Throttle
	// HashConcurrency bounds the argon2id computations running at once
	// (default: the number of CPUs, at least 2); HashWait is how long an
	// attempt waits for a slot before it is refused as busy (default 2 s).
	HashConcurrency int
	HashWait        time.Duration
	// SessionIdle and SessionMax bound a console session (defaults 2 h and 12 h).
	SessionIdle, SessionMax time.Duration
}

// Service implements the identity rules over the control-plane store.
type Service struct {
	db      *store.DB
	log     *audit.Log
	regions *region.Table
	now     func() time.Time
	opt     Options
	argon   Argon2Params
	// hashSlots bounds concurrent argon2id computations.
	hashSlots chan struct{}
}

// NewService wires the identity service.
func NewService(db *store.DB, log *audit.Log, regions *region.Table, now func() time.Time, opt Options) *Service {
	if now == nil {
		now = time.Now
	}
	opt.Throttle = opt.Throttle.withDefaults()
	if opt.HashConcurrency <= 0 {
		opt.HashConcurrency = max(2, runtime.NumCPU())
	}
	if opt.HashWait <= 0 {
		opt.HashWait = 2 * time.Second
	}
	if opt.SessionIdle <= 0 {
		opt.SessionIdle = 2 * time.Hour
	}
	if opt.SessionMax <= 0 {
		opt.SessionMax = 12 * time.Hour
	}
	argon := DefaultArgon2
	if opt.Argon2 != nil {
		argon = *opt.Argon2
	}
	return &Service{db: db, log: log, regions: regions, now: now, opt: opt, argon: argon,
		hashSlots: make(chan struct{}, opt.HashConcurrency)}
}

// Regions returns the administrative division table the service checks against.
func (s *Service) Regions() *region.Table { return s.regions }

func (s *Service) clock() time.Time { return s.now().UTC() }

// entry starts an audit entry for an action by p.
func entry(actor audit.Actor, action, objectType string, objectID int64) audit.Entry {
	e := audit.Entry{Actor: actor, Action: action, ObjectType: objectType}
	if objectID != 0 {
		e.ObjectID = strconv.FormatInt(objectID, 10)
	}
	return e
}

// refuse audits a refusal decided before any transaction and returns err.
func (s *Service) refuse(ctx context.Context, e audit.Entry, err error) error {
	return s.log.Refuse(ctx, e, err)
}

func itoa(n int) string { return strconv.Itoa(n) }
