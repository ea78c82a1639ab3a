package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/demo"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/registry"
	"github.com/gongshu/gongshu/internal/workday"
)

func (e *env) principal(login string) identity.Principal {
	e.t.Helper()
	p, err := e.app.Identity.AuthenticateToken(context.Background(), e.account(login).Token)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) resourceForm(name string) registry.ResourceForm {
	return registry.ResourceForm{
		Name: name, Description: "全省市场主体登记注册信息，含统一社会信用代码与经营范围。", HolderOrgID: e.account("dept.amr").OrgID,
		Domain: "market", Classification: "市场监管/主体登记", Grade: "general-2", Frequency: "daily",
		SourceSystem: "江西省市场主体登记系统", LegalBasis: "《市场主体登记管理条例》", StorageLocation: "省政务云",
		StorageMethod: "database", AccessMethod: "authorized",
		Items: []registry.DataItem{{Name: "uscc", Label: "统一社会信用代码", Standard: "GB 32100"}},
	}
}

// submitted files a resource for dept.amr and returns it, not yet accepted.
func (e *env) submitted() registry.Item {
	e.t.Helper()
	it, err := e.app.Registry.SubmitResource(context.Background(), e.principal("dept.amr"), e.resourceForm("市场主体登记信息"))
	if err != nil {
		e.t.Fatal(err)
	}
	return it
}

// registeredPool registers n resources at once (one move of the clock past
// their announcement), for rows whose allowed callers each use one up.
func (e *env) registeredPool(n int) []registry.Item {
	e.t.Helper()
	ctx := context.Background()
	auth := e.principal("authority")
	var items []registry.Item
	for i := 0; i < n; i++ {
		it := e.submitted()
		for _, s := range []registry.Step{registry.StepAccept, registry.StepAnnounce} {
			if _, err := e.app.Registry.Advance(ctx, auth, it.ID, s, ""); err != nil {
				e.t.Fatal(err)
			}
		}
		items = append(items, it)
	}
	e.clock.Advance(10 * 24 * time.Hour)
	for i, it := range items {
		reg, err := e.app.Registry.Advance(ctx, auth, it.ID, registry.StepRegister, "")
		if err != nil {
			e.t.Fatal(err)
		}
		items[i] = reg
	}
	return items
}

// registryCases are the registration platform's rows of the role matrix.
func registryCases(e *env) []apiCase {
	pool := e.registeredPool(8)
	public := pool[0]
	next := 1
	fresh := func() registry.Item {
		it := pool[next]
		next++
		return it
	}
	reviewers := []string{"admin", "authority", "nc.authority", "agency", "nc.agency", "regulator.cac"}
	return []apiCase{
		{route: "GET /api/v1/catalog/search", call: get("/api/v1/catalog/search?q=" + url.QueryEscape("市场")), allowed: everyone, public: true},
		{route: "GET /api/v1/catalog.jsonld", call: get("/api/v1/catalog.jsonld"), allowed: everyone, public: true},
		{route: "GET /api/v1/catalog/datasets/{id}", call: get(fmt.Sprint("/api/v1/catalog/datasets/", public.ID)), allowed: everyone, public: true},
		{route: "GET /api/v1/registry/items", call: get("/api/v1/registry/items?kind=resource"), allowed: everyone},
		{route: "GET /api/v1/registry/items/{id}", call: get(fmt.Sprint("/api/v1/registry/items/", public.ID)), allowed: everyone, public: true},
		{route: "GET /api/v1/registry/items/{id}/versions", call: get(fmt.Sprint("/api/v1/registry/items/", public.ID, "/versions")), allowed: everyone},
		{route: "GET /api/v1/registry/lookup/{code}", call: get("/api/v1/registry/lookup/" + public.Code), allowed: everyone, public: true},
		{route: "GET /api/v1/registry/overlaps", call: get("/api/v1/registry/overlaps"), allowed: reviewers},
		// Only the provincial authority reviews a provincial department's resource.
		{route: "POST /api/v1/registry/items/{id}/steps", call: func(e *env, login, token string) response {
			return e.api("POST", fmt.Sprint("/api/v1/registry/items/", e.submitted().ID, "/steps"), token, map[string]string{"step": "accept"})
		}, allowed: []string{"authority"}},
		// The holder (or the agency, and the administrator, who is in it) asks for a change.
		{route: "POST /api/v1/registry/items/{id}/changes", call: func(e *env, login, token string) response {
			it := public
			if login == "dept.amr" || login == "agency" || login == "admin" {
				it = fresh()
			}
			f := e.resourceForm("市场主体登记信息（含注销）")
			return e.api("POST", fmt.Sprint("/api/v1/registry/items/", it.ID, "/changes"), token, map[string]any{"resource": f})
		}, allowed: []string{"dept.amr", "agency", "admin"}},
		{route: "POST /api/v1/registry/items/{id}/corrections", call: func(e *env, login, token string) response {
			f := e.resourceForm("市场主体登记信息")
			f.Frequency = "weekly"
			return e.api("POST", fmt.Sprint("/api/v1/registry/items/", public.ID, "/corrections"), token, map[string]any{"resource": f, "reason": "更新频率登记有误"})
		}, allowed: []string{"authority"}},
		{route: "POST /api/v1/registry/resources", call: func(e *env, login, token string) response {
			return e.api("POST", "/api/v1/registry/resources", token, e.resourceForm("市场主体年报信息"))
		}, allowed: []string{"dept.amr", "agency", "admin"}},
		{route: "POST /api/v1/registry/products", call: func(e *env, login, token string) response {
			return e.api("POST", "/api/v1/registry/products", token, registry.ProductForm{Name: "企业信用画像", Description: "基于市场主体登记信息的企业信用画像服务。",
				Type: "api", ResourceIDs: []int64{public.ID}, AgreementRef: "JX-2026-001", PriceFen: 100, PriceUnit: "次", PricingBasis: "按次计费，成本加合理利润"})
		}, allowed: []string{"op.ganshu"}},
	}
}

// R13.1: the workflow over HTTP, the console pages and the public
// certificate; a refused step is shown in the user's language.
func TestRegistryConsoleAndCertificate(t *testing.T) {
	e := newEnv(t, false)
	dept := e.client()
	dept.mustLogin("dept.amr")
	r := dept.get("/console/registry/new")
	if r.status != http.StatusOK {
		t.Fatalf("new resource page: %d", r.status)
	}
	// A bad form comes back with the message naming the field in Chinese.
	r = dept.postForm("/console/registry", url.Values{"csrf_token": {dept.csrf("/console/registry/new")}, "name": {"市场主体登记信息"},
		"description": {"太短"}, "holder_org_id": {fmt.Sprint(e.account("dept.amr").OrgID)}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "描述的长度应在10到2000个字之间") {
		t.Fatalf("bad form: %d %s", r.status, r.body)
	}
	it := e.registeredPool(1)[0]
	anon := e.client()
	r = anon.get("/registry/" + it.Code)
	if r.status != http.StatusOK || !strings.Contains(r.body, it.Code) || !strings.Contains(r.body, "数据资源登记证书") {
		t.Fatalf("certificate: %d", r.status)
	}
	r = anon.get("/registry?code=" + it.Code[:18] + "0")
	if it.Code[18] != '0' && (r.status != http.StatusNotFound || !strings.Contains(r.body, "校验位不正确")) {
		t.Fatalf("lookup with a wrong check character: %d", r.status)
	}
	auth := e.client()
	auth.mustLogin("authority")
	sub := e.submitted()
	page := fmt.Sprint("/console/registry/", sub.ID)
	r = auth.postForm(page+"/steps", url.Values{"csrf_token": {auth.csrf(page)}, "step": {"register"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "不能办理") {
		t.Fatalf("out-of-order step: %d", r.status)
	}
	r = auth.postForm(page+"/steps", url.Values{"csrf_token": {auth.csrf(page)}, "step": {"accept"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("accept: %d %s", r.status, r.body)
	}
	if r = auth.get(page); !strings.Contains(r.body, "已受理") {
		t.Fatalf("accepted item page: %d", r.status)
	}
}

// seedRegistry registers the demo's resources (and leaves some in the queue).
func (e *env) seedRegistry() {
	e.t.Helper()
	a := e.app
	if _, err := demo.SeedRegistry(context.Background(), a.DB, a.Audit, a.Identity, a.Regions, workday.Default(), e.creds, e.clock.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// The catalog: public, facets, the 社保 search, a resource page with its
// data items and no data, and refused bad queries.
func TestCatalog(t *testing.T) {
	e := newEnv(t, false)
	e.seedRegistry()
	anon := e.client()
	r := anon.get("/catalog?q=" + url.QueryEscape("社保"))
	if r.status != http.StatusOK || !strings.Contains(r.body, "社会保险参保缴费信息") || strings.Contains(r.body, "企业登记信息</a>") {
		t.Fatalf("catalog search: %d", r.status)
	}
	var res struct {
		Total int
		Items []struct {
			ID   int64
			Name string
		}
		Facets map[string][]struct {
			Value string
			Count int
		}
	}
	e.api("GET", "/api/v1/catalog/search?q="+url.QueryEscape("企业"), "", nil).json(t, &res)
	// Names with the word first, then a description that mentions it.
	if res.Total != 3 || !strings.HasPrefix(res.Items[0].Name, "企业") || !strings.HasPrefix(res.Items[1].Name, "企业") || res.Items[2].Name != "纳税信用等级评价结果" {
		t.Fatalf("企业: %+v", res)
	}
	e.api("GET", "/api/v1/catalog/search?domain=market&domain=tax", "", nil).json(t, &res)
	if res.Total != 2 || len(res.Facets["domain"]) < 5 {
		t.Fatalf("facet filter: %+v", res)
	}
	// Items not yet registered are not in the catalog.
	e.api("GET", "/api/v1/catalog/search?q="+url.QueryEscape("年度报告"), "", nil).json(t, &res)
	if res.Total != 0 {
		t.Fatalf("an unregistered resource is in the catalog: %+v", res)
	}
	if r := e.api("GET", "/api/v1/catalog/search?q="+strings.Repeat("数", 201), "", nil); r.status != http.StatusBadRequest || !strings.Contains(r.body, "查询词过长") {
		t.Fatalf("long query: %d %s", r.status, r.body)
	}
	// The DCAT export: valid JSON-LD with the DCAT and DCTERMS vocabularies,
	// every registered resource, nothing pending.
	var ld map[string]any
	e.api("GET", "/api/v1/catalog.jsonld", "", nil).json(t, &ld)
	ctxs, _ := ld["@context"].(map[string]any)
	sets, _ := ld["dcat:dataset"].([]any)
	if ctxs["dcat"] != "http://www.w3.org/ns/dcat#" || ctxs["dcterms"] != "http://purl.org/dc/terms/" || ld["@type"] != "dcat:Catalog" || len(sets) != 7 {
		t.Fatalf("catalog.jsonld: context %v, %d datasets", ctxs, len(sets))
	}
	e.api("GET", "/api/v1/catalog/search?q="+url.QueryEscape("社保"), "", nil).json(t, &res)
	r = anon.get(fmt.Sprint("/catalog/", res.Items[0].ID))
	if r.status != http.StatusOK || !strings.Contains(r.body, "公民身份号码") || !strings.Contains(r.body, "数据本身不出域") {
		t.Fatalf("resource page: %d", r.status)
	}
}
