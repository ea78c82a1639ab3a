package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/registry"
)

// The registration platform over HTTP: departments and the agency submit
// resources, operators their products, the authority moves them through
// the workflow; anyone may look a registered item up by its identifier
// and print its certificate.

func filterFrom(r *http.Request) (registry.Filter, error) {
	q := r.URL.Query()
	f := registry.Filter{Kind: registry.Kind(q.Get("kind")), Status: registry.Status(q.Get("status")), Overdue: q.Get("overdue") == "1" || q.Get("overdue") == "true"}
	if v := q.Get("org"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return f, apperr.New(apperr.Invalid, "web.bad_number", "name", "org", "value", v).OnField("org")
		}
		f.OrgID = id
	}
	return f, nil
}

func (s *Server) apiRegistryItems(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	f, err := filterFrom(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, err := s.reg.List(r.Context(), *p, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if items == nil {
		items = []registry.Item{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) apiRegistrySubmitResource(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var in registry.ResourceForm
	if err := decode(r, &in); err != nil {
		s.refuseBody(w, r, "resource.submit", "registry_item", err)
		return
	}
	it, err := s.reg.SubmitResource(r.Context(), *p, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, it)
}

func (s *Server) apiRegistrySubmitProduct(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var in registry.ProductForm
	if err := decode(r, &in); err != nil {
		s.refuseBody(w, r, "product.submit", "registry_item", err)
		return
	}
	it, err := s.reg.SubmitProduct(r.Context(), *p, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, it)
}

// apiRegistryItem is public for registered items; an unregistered one is
// shown to those who may see it (the caller may be anonymous).
func (s *Server) apiRegistryItem(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := optionalPrincipal(r)
	it, err := s.reg.Get(r.Context(), p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func (s *Server) apiRegistryVersions(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	vs, err := s.reg.Versions(r.Context(), *p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
}

type stepInput struct {
	Step   string `json:"step"`
	Reason string `json:"reason"`
}

func (s *Server) apiRegistryStep(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in stepInput
	if err := decode(r, &in); err != nil {
		s.deny(w, r, "registry.step", "registry_item", strconv.FormatInt(id, 10), err)
		return
	}
	it, err := s.reg.Advance(r.Context(), *p, id, registry.Step(in.Step), in.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, it)
}

type versionInput struct {
	Resource *registry.ResourceForm `json:"resource,omitempty"`
	Product  *registry.ProductForm  `json:"product,omitempty"`
	Reason   string                 `json:"reason,omitempty"`
}

func (v versionInput) form() any {
	if v.Resource != nil {
		return *v.Resource
	}
	if v.Product != nil {
		return *v.Product
	}
	return nil
}

func (s *Server) apiRegistryChange(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	s.newVersion(w, r, p, false)
}

func (s *Server) apiRegistryCorrect(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	s.newVersion(w, r, p, true)
}

// newVersion submits a change (the holder's) or a correction (the
// authority's) of a registered item.
func (s *Server) newVersion(w http.ResponseWriter, r *http.Request, p *identity.Principal, correction bool) {
	action := "registry" + ".change"
	if correction {
		action = "registry" + ".correct"
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in versionInput
	if err := decode(r, &in); err != nil {
		s.deny(w, r, action, "registry_item", strconv.FormatInt(id, 10), err)
		return
	}
	var it registry.Item
	if !correction {
		it, err = s.reg.RequestChange(r.Context(), *p, id, in.form())
	} else {
		it, err = s.reg.Correct(r.Context(), *p, id, in.form(), in.Reason)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func (s *Server) apiRegistryOverlaps(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := identity.Authorize(s.regions, *p, identity.ActRegistryReadAll, identity.Object{}); err != nil {
		s.deny(w, r, "registry.overlaps", "registry_overlap", "", err)
		return
	}
	os, err := s.reg.Overlaps(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if os == nil {
		os = []registry.Overlap{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"overlaps": os})
}

func (s *Server) apiRegistryLookup(w http.ResponseWriter, r *http.Request) {
	it, err := s.reg.Lookup(r.Context(), r.PathValue("code"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, it)
}

// Console pages.

type registryListData struct {
	Items     []registry.Item
	Filter    registry.Filter
	CanSubmit bool
	Statuses  []registry.Status
}

func (s *Server) registryPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	f, err := filterFrom(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, err := s.reg.List(r.Context(), *p, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	canSubmit := p.Has(identity.RoleDepartment) || p.Has(identity.RoleAgency)
	s.render(w, r, http.StatusOK, "registry", registryListData{Items: items, Filter: f, CanSubmit: canSubmit,
		Statuses: []registry.Status{registry.Submitted, registry.Accepted, registry.Announced, registry.Registered, registry.Rejected, registry.Cancelled}})
}

type registryNewData struct {
	Form                                          registry.ResourceForm
	Holders                                       []identity.Org
	Domains, Grades, Frequencies, Access, Storage []string
	Error                                         string
	ErrorField                                    string
}

func (s *Server) registryNewData(r *http.Request, p *identity.Principal, f registry.ResourceForm) (registryNewData, error) {
	d := registryNewData{Form: f, Domains: registry.Domains, Grades: registry.Grades, Frequencies: registry.Frequencies,
		Access: registry.AccessMethods, Storage: registry.StorageMethods}
	if p.Has(identity.RoleAgency) {
		for _, t := range []identity.OrgType{identity.OrgDepartment, identity.OrgUtility} {
			orgs, err := s.ids.Orgs(r.Context(), identity.OrgFilter{Type: t, Region: p.Region})
			if err != nil {
				return d, err
			}
			d.Holders = append(d.Holders, orgs...)
		}
	} else {
		org, err := s.ids.Org(r.Context(), p.OrgID)
		if err != nil {
			return d, err
		}
		d.Holders = []identity.Org{org}
	}
	return d, nil
}

func (s *Server) registryNewPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	// The form is for those who may submit for some holder: a holding
	// department or utility for itself, the agency for its region.
	obj := identity.Object{OrgID: p.OrgID, Region: p.Region}
	if !s.authorize(w, r, p, identity.ActResourceSubmit, obj) {
		return
	}
	d, err := s.registryNewData(r, p, registry.ResourceForm{HolderOrgID: p.OrgID, Frequency: "monthly", AccessMethod: "authorized", StorageMethod: "database"})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "registry_new", d)
}

func formResource(r *http.Request) registry.ResourceForm {
	holder, _ := strconv.ParseInt(r.PostFormValue("holder_org_id"), 10, 64)
	f := registry.ResourceForm{Name: r.PostFormValue("name"), Description: r.PostFormValue("description"), HolderOrgID: holder,
		Domain: r.PostFormValue("domain"), Classification: r.PostFormValue("classification"), Grade: r.PostFormValue("grade"),
		PersonalInfo: r.PostFormValue("personal_info") != "", SensitivePersonalInfo: r.PostFormValue("sensitive_personal_info") != "",
		Frequency: r.PostFormValue("frequency"), SourceSystem: r.PostFormValue("source_system"), LegalBasis: r.PostFormValue("legal_basis"),
		StorageLocation: r.PostFormValue("storage_location"), StorageMethod: r.PostFormValue("storage_method"), AccessMethod: r.PostFormValue("access_method")}
	if v := strings.TrimSpace(r.PostFormValue("standards")); v != "" {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				f.Standards = append(f.Standards, x)
			}
		}
	}
	// Data items, one per line: name, label, standard.
	for _, line := range strings.Split(r.PostFormValue("items"), "\n") {
		parts := strings.Split(line, ",")
		if strings.TrimSpace(parts[0]) == "" {
			continue
		}
		it := registry.DataItem{Name: strings.TrimSpace(parts[0])}
		if len(parts) > 1 {
			it.Label = strings.TrimSpace(parts[1])
		}
		if len(parts) > 2 {
			it.Standard = strings.TrimSpace(parts[2])
		}
		f.Items = append(f.Items, it)
	}
	if name := strings.TrimSpace(r.PostFormValue("shared_provider")); name != "" || strings.TrimSpace(r.PostFormValue("shared_consent")) != "" {
		f.SharedOrigin = &registry.SharedFrom{ProviderName: name, ConsentRef: strings.TrimSpace(r.PostFormValue("shared_consent"))}
	}
	return f
}

func (s *Server) registrySubmit(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	f := formResource(r)
	it, err := s.reg.SubmitResource(r.Context(), *p, f)
	if err != nil {
		code, msg, field := s.message(r, err)
		if code != apperr.Invalid {
			s.fail(w, r, err)
			return
		}
		d, derr := s.registryNewData(r, p, f)
		if derr != nil {
			s.fail(w, r, derr)
			return
		}
		d.Error, d.ErrorField = msg, field
		s.render(w, r, http.StatusUnprocessableEntity, "registry_new", d)
		return
	}
	http.Redirect(w, r, "/console/registry/"+strconv.FormatInt(it.ID, 10), http.StatusSeeOther)
}

type registryItemData struct {
	Item     registry.Item
	Resource *registry.ResourceForm
	Product  *registry.ProductForm
	Versions []registry.Version
	Steps    []registry.Step
	Error    string
}

func (s *Server) registryItemData(r *http.Request, p *identity.Principal, id int64) (registryItemData, error) {
	it, err := s.reg.Get(r.Context(), *p, id)
	if err != nil {
		return registryItemData{}, err
	}
	d := registryItemData{Item: it}
	if d.Resource, d.Product, err = it.Forms(); err != nil {
		return d, err
	}
	if d.Versions, err = s.reg.Versions(r.Context(), *p, id); err != nil {
		return d, err
	}
	obj := identity.Object{OrgID: it.HolderOrgID, Region: it.Region}
	if identity.Authorize(s.regions, *p, identity.ActRegistryReview, obj) == nil {
		switch it.Status {
		case registry.Submitted:
			d.Steps = []registry.Step{registry.StepAccept, registry.StepReject}
		case registry.Accepted:
			d.Steps = []registry.Step{registry.StepAnnounce, registry.StepReject}
		case registry.Announced:
			d.Steps = []registry.Step{registry.StepRegister, registry.StepReject}
		}
	}
	if it.Status != registry.Cancelled && it.Status != registry.Rejected && identity.Authorize(s.regions, *p, identity.ActRegistryCancel, obj) == nil {
		d.Steps = append(d.Steps, registry.StepCancel)
	}
	return d, nil
}

func (s *Server) registryItemPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.registryItemData(r, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "registry_item", d)
}

func (s *Server) registryStep(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	_, err = s.reg.Advance(r.Context(), *p, id, registry.Step(r.PostFormValue("step")), r.PostFormValue("reason"))
	if err != nil {
		msg, ok := s.fixable(r, err)
		if !ok {
			s.fail(w, r, err)
			return
		}
		d, derr := s.registryItemData(r, p, id)
		if derr != nil {
			s.fail(w, r, derr)
			return
		}
		d.Error = msg
		s.render(w, r, http.StatusUnprocessableEntity, "registry_item", d)
		return
	}
	http.Redirect(w, r, "/console/registry/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

// Portal: lookup and certificate (no login).

type certificateData struct {
	Item      registry.Item
	Resource  *registry.ResourceForm
	Product   *registry.ProductForm
	VerifyURL string
}

func (s *Server) registryLookupPage(w http.ResponseWriter, r *http.Request) {
	code := strings.TrimSpace(r.URL.Query().Get("code"))
	if code == "" {
		s.render(w, r, http.StatusOK, "lookup", map[string]string{})
		return
	}
	it, err := s.reg.Lookup(r.Context(), code)
	if err != nil {
		_, msg, _ := s.message(r, err)
		s.render(w, r, http.StatusNotFound, "lookup", map[string]string{"Code": code, "Error": msg})
		return
	}
	http.Redirect(w, r, "/registry/"+it.Code, http.StatusSeeOther)
}

func (s *Server) certificatePage(w http.ResponseWriter, r *http.Request) {
	it, err := s.reg.Lookup(r.Context(), r.PathValue("code"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := certificateData{Item: it, VerifyURL: "/api/v1/registry/lookup/" + it.Code}
	if d.Resource, d.Product, err = it.Forms(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "certificate", d)
}
