package identity

import (
	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/region"
)

// Action is something a principal may try to do.
type Action string

const (
	ActConsoleView    Action = "console.view"
	ActOrgRead        Action = "org.read"
	ActOrgCreate      Action = "org.create"
	ActUserRead       Action = "user.read"
	ActUserCreate     Action = "user.create"
	ActUserResetPass  Action = "user.reset_password"
	ActUserChangePass Action = "user.change_password"
	ActTokenManage    Action = "token.manage"
	ActTokenRevoke    Action = "token.revoke"
	ActAuditRead      Action = "audit.read"
	ActAuditReadAll   Action = "audit.read_all"
	ActAuditAck       Action = "audit.acknowledge"
	ActAuditCosigners Action = "audit.manage_cosigners"
	ActAuditCosign    Action = "audit.cosign"
	// Registration platform (R13.1).
	ActResourceSubmit  Action = "resource.submit"
	ActProductSubmit   Action = "product.submit"
	ActRegistryReview  Action = "registry.review"
	ActRegistryCancel  Action = "registry.cancel"
	ActRegistryReadAll Action = "registry.read_unpublished"
	// Authorization: plans, selection, agreements (R7-R11, R16).
	ActPlanDraft          Action = "plan.draft"
	ActPlanSubmit         Action = "plan.submit"
	ActPlanDecide         Action = "plan.decide"
	ActPlanFile           Action = "plan.file"
	ActPlanAckFiling      Action = "plan.acknowledge_filing"
	ActSelectionManage    Action = "selection.manage"
	ActAgreementDraft     Action = "agreement.draft"
	ActAgreementDecide    Action = "agreement.decide"
	ActAgreementSign      Action = "agreement.sign"
	ActAgreementFile      Action = "agreement.file"
	ActAgreementAckFiling Action = "agreement.acknowledge_filing"
	ActAgreementActivate  Action = "agreement.activate"
	ActAgreementSuspend   Action = "agreement.suspend"
	ActAgreementTerminate Action = "agreement.terminate"
	ActAgreementHandover  Action = "agreement.handover"
	ActGrantReadAll       Action = "grant.read_all"
	// Data supply, quality and governance (R5, R6.2, R12.2). The object is
	// a resource (or a case, entry or consent on one): Object.OrgID is its
	// holding department, Object.Region the holder's region; for a case,
	// Object.UserID is the signed-in user who raised it.
	ActDataManage      Action = "data.manage"
	ActQualityManage   Action = "quality.manage"
	ActQualitySamples  Action = "quality.read_samples"
	ActCaseRead        Action = "case.read"
	ActCaseHandle      Action = "case.handle"
	ActCaseContact     Action = "case.read_contact"
	ActCaseClose       Action = "case.close"
	ActNegativeRequest Action = "negative.request"
	ActNegativeReview  Action = "negative.review"
	ActNegativeDecide  Action = "negative.decide"
	ActConsentManage   Action = "consent.manage"
)

// Actions lists every action, in the order the authorization matrix shows them.
var Actions = []Action{
	ActConsoleView, ActOrgRead, ActOrgCreate, ActUserRead, ActUserCreate, ActUserResetPass,
	ActUserChangePass, ActTokenManage, ActTokenRevoke, ActAuditRead, ActAuditReadAll, ActAuditAck,
	ActAuditCosigners, ActAuditCosign, ActResourceSubmit, ActProductSubmit, ActRegistryReview,
	ActRegistryCancel, ActRegistryReadAll,
	ActPlanDraft, ActPlanSubmit, ActPlanDecide, ActPlanFile, ActPlanAckFiling, ActSelectionManage,
	ActAgreementDraft, ActAgreementDecide, ActAgreementSign, ActAgreementFile, ActAgreementAckFiling,
	ActAgreementActivate, ActAgreementSuspend, ActAgreementTerminate, ActAgreementHandover, ActGrantReadAll,
	ActDataManage, ActQualityManage, ActQualitySamples, ActCaseRead, ActCaseHandle, ActCaseContact, ActCaseClose,
	ActNegativeRequest, ActNegativeReview, ActNegativeDecide, ActConsentManage,
}

// Object is what an action is done to, as far as the decision needs it.
// Zero fields mean "not about a particular one".
type Object struct {
	OrgID  int64  // the organisation that owns it
	Region string // its administrative region
	UserID int64  // the user it belongs to
}

// Authorize is the one decision "may p do a to o". It returns nil or a
// Forbidden error naming the action, and is a pure function of its inputs.
func Authorize(regions *region.Table, p Principal, a Action, o Object) error {
	if p.UserID == 0 {
		return apperr.New(apperr.Unauthenticated, "identity.login_required")
	}
	if allowed(regions, p, a, o) {
		return nil
	}
	return apperr.New(apperr.Forbidden, "identity.forbidden", "action", string(a))
}

func allowed(regions *region.Table, p Principal, a Action, o Object) bool {
	admin := p.Has(RoleAdmin)
	ownOrg := o.OrgID != 0 && o.OrgID == p.OrgID
	self := o.UserID != 0 && o.UserID == p.UserID
	// Each region runs its own authorizations (R4.1): plans and agreements
	// are acted on by the bodies of exactly their region.
	sameRegion := o.Region != "" && o.Region == p.Region
	within := o.Region != "" && regions.Contains(p.Region, o.Region)
	switch a {
	case ActConsoleView, ActOrgRead:
		return true
	case ActOrgCreate:
		// An authority registers the bodies of its own region (R4.1); the
		// platform administrator registers anyone.
		return admin || (p.Has(RoleAuthority) && o.Region != "" && regions.Contains(p.Region, o.Region))
	case ActUserRead:
		return admin || ownOrg
	case ActUserCreate, ActUserResetPass:
		return admin
	case ActUserChangePass, ActTokenManage:
		return self
	case ActTokenRevoke:
		// The administrator may revoke anyone's token, e.g. a leaked one.
		return self || admin
	case ActAuditReadAll:
		return admin || p.Has(RoleAuthority) || p.Has(RoleAgency) || p.Has(RoleRegulator)
	case ActAuditAck, ActAuditCosigners:
		// Resuming writes after an integrity alarm, and choosing whose
		// cosignatures the log accepts, are the platform administrator's
		// calls, and are themselves audited.
		return admin
	case ActAuditCosign:
		// Those who watch the platform countersign its checkpoints.
		return admin || p.Has(RoleAuthority) || p.Has(RoleRegulator)
	case ActResourceSubmit:
		// The holding department (or utility, R23.1) registers its own
		// resources; the agency may on behalf of holders in its region (R13.1).
		return ((p.Has(RoleDepartment)) && ownOrg) ||
			(p.Has(RoleAgency) && o.Region != "" && regions.Contains(p.Region, o.Region))
	case ActProductSubmit:
		return p.Has(RoleOperator) && ownOrg
	case ActRegistryReview:
		// The data authority runs the registration platform of its region.
		return p.Has(RoleAuthority) && o.Region != "" && regions.Contains(p.Region, o.Region)
	case ActRegistryCancel:
		return ownOrg && (p.Has(RoleDepartment) || p.Has(RoleOperator) || p.Has(RoleAgency)) ||
			(p.Has(RoleAuthority) && o.Region != "" && regions.Contains(p.Region, o.Region))
	case ActRegistryReadAll:
		return admin || p.Has(RoleAuthority) || p.Has(RoleAgency) || p.Has(RoleRegulator) || ownOrg
	case ActPlanDraft:
		// Drafted by the authority, or by the agency under its guidance (R8.1).
		return (p.Has(RoleAuthority) || p.Has(RoleAgency)) && sameRegion
	case ActPlanSubmit, ActPlanFile:
		// The authority submits a plan to the government's decision and
		// files a decided city or county plan upward (R9.1).
		return p.Has(RoleAuthority) && sameRegion
	case ActPlanDecide:
		// The government's 三重一大 decision, recorded by the government
		// itself or by its authority (R9.1).
		return (p.Has(RoleGovernment) || p.Has(RoleAuthority)) && sameRegion
	case ActPlanAckFiling, ActAgreementAckFiling:
		// Filings go to the provincial authority (R9.1, R11.1).
		return p.Has(RoleAuthority) && provincial(regions, p.Region) && within
	case ActSelectionManage, ActAgreementDraft, ActAgreementDecide, ActAgreementFile, ActAgreementActivate,
		ActAgreementSuspend, ActAgreementTerminate, ActAgreementHandover:
		// The agency selects operators, decides, signs and files
		// agreements, and suspends or ends them (R10.1, R11.1, R16.1).
		return p.Has(RoleAgency) && sameRegion
	case ActAgreementSign:
		// Both parties sign: the agency of the region and the operator.
		return (p.Has(RoleAgency) && sameRegion) || (p.Has(RoleOperator) && ownOrg)
	case ActGrantReadAll:
		// Plans and agreements of a region are read by those who run or
		// oversee it; an operator reads those it is party to.
		return admin || ownOrg ||
			((p.Has(RoleAuthority) || p.Has(RoleAgency) || p.Has(RoleGovernment) || p.Has(RoleRegulator)) && within)
	case ActAuditRead:
		// Everyone may read the entries of their own organisation's actions.
		return admin || p.Has(RoleAuthority) || p.Has(RoleAgency) || p.Has(RoleRegulator) || ownOrg
	case ActDataManage, ActCaseHandle, ActNegativeRequest, ActConsentManage, ActQualitySamples:
		// The holding department (or utility, R23.1) speaks for its data;
		// the agency of the holder's region, or of a region containing it,
		// acts for it. A city body never acts on a provincial resource.
		return holds(regions, p, o)
	case ActCaseContact:
		// An objector's contact is personal data: the case's handler needs
		// it to answer, and the signed-in raiser sees their own.
		return holds(regions, p, o) || self
	case ActQualityManage:
		// The data authority runs quality monitoring (R6.2) in its region.
		return holds(regions, p, o) || (p.Has(RoleAuthority) && within)
	case ActCaseRead, ActCaseClose:
		// The handler, the authority overseeing the region, and the user
		// who raised the case.
		return holds(regions, p, o) || (p.Has(RoleAuthority) && within) || self
	case ActNegativeReview:
		// The authority of the resource's region (or above) reviews (R5.2).
		return p.Has(RoleAuthority) && within
	case ActNegativeDecide:
		// The government of the resource's region decides.
		return p.Has(RoleGovernment) && within
	}
	return false
}

// holds reports whether p speaks for the holder of o: a member of the
// holding department, or the agency of o's region or of a region
// containing it.
func holds(regions *region.Table, p Principal, o Object) bool {
	if p.Has(RoleDepartment) && o.OrgID != 0 && o.OrgID == p.OrgID {
		return true
	}
	return p.Has(RoleAgency) && o.Region != "" && regions.Contains(p.Region, o.Region)
}

// provincial reports whether code is a province-level region.
func provincial(regions *region.Table, code string) bool {
	r, ok := regions.Lookup(code)
	return ok && r.Level == region.Province
}
