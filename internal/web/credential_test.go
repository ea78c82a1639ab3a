package web_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/web"
)

var pathParam = regexp.MustCompile(`\{[a-z$]+\}`)

// Finding 11 of issue 15 (OWASP ASVS V13.2): a credential that is present
// but does not work (bogus, revoked, expired) is refused with 401 on every
// route of the API, public ones included, and on any page that is sent a
// bearer token; it is never served as if anonymous (POST /api/v1/cases
// raised a public case). A stale session cookie on a portal page is not a
// credential presented on purpose and is dropped there.
func TestInvalidCredentialIs401Everywhere(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	_, revoked, err := e.app.Identity.CreateTokenAsSystem(ctx, "op.ganshu", "to revoke", 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.api("DELETE", fmt.Sprint("/api/v1/tokens/", lastTokenID(e)), e.account("op.ganshu").Token, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	_, expired, err := e.app.Identity.CreateTokenAsSystem(ctx, "op.ganshu", "to expire", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	bad := map[string]string{"bogus": "gst_" + strings.Repeat("A", 43), "revoked": revoked, "expired": expired, "not a token": "hello"}
	for _, route := range e.app.Web.Routes() {
		method, path, ok := strings.Cut(route, " ")
		if !ok {
			method, path = "GET", route+"nowhere"
		}
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		path = pathParam.ReplaceAllString(path, "1")
		for name, tok := range bad {
			r := e.api(method, path, tok, map[string]any{})
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s with a %s token: %d, want 401: %.200s", route, name, r.status, r.body)
				continue
			}
			r.apiError(t)
		}
	}
	before := e.count("gov_cases")
	r := e.api("POST", "/api/v1/cases", bad["bogus"], map[string]any{"kind": "objection", "resource_id": 1,
		"description": "企业地址与实际经营地址不符，请核实。", "contact": "13800138000"})
	if r.status != http.StatusUnauthorized || e.count("gov_cases") != before {
		t.Errorf("POST /api/v1/cases with a bogus token: %d, cases %d → %d", r.status, before, e.count("gov_cases"))
	}
	c := &client{t: t, e: e, http: e.srv.Client()}
	if r := c.do("GET", "/catalog", nil, map[string]string{"Authorization": "Bearer " + bad["bogus"]}); r.status != http.StatusUnauthorized {
		t.Errorf("portal page with a bogus bearer token: %d", r.status)
	}
	if r := c.do("GET", "/catalog", nil, map[string]string{"Cookie": "gongshu_session=stale"}); r.status != http.StatusOK {
		t.Errorf("portal page with a stale session cookie: %d", r.status)
	}
	if r := c.do("GET", "/api/v1/catalog/search?q=x", nil, map[string]string{"Cookie": "gongshu_session=stale"}); r.status != http.StatusUnauthorized {
		t.Errorf("API with a stale session cookie: %d", r.status)
	}
}

func lastTokenID(e *env) int64 {
	e.t.Helper()
	var id int64
	if err := e.app.DB.QueryRow(context.Background(), "SELECT MAX(id) FROM api_tokens").Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// Finding 4 of issue 15: a flood of requests with bogus bearer tokens
// wrote one audit entry each. Now one source has its first refusals of an
// interval recorded one by one and the rest counted into one summarizing
// entry when the interval ends, with the exact count: the log grows by a
// bounded number of entries, and no refusal goes uncounted.
func TestBogusTokenFloodIsFolded(t *testing.T) {
	e := newEnv(t, false)
	const n = 300
	routes := []string{"/api/v1/me", "/api/v1/catalog/search?q=x", "/api/v1/registry/items", "/api/v1/openapi.json"}
	// Start at the beginning of an interval, so that the flood is in one.
	now := e.clock.Now()
	e.clock.Advance(now.Truncate(time.Minute).Add(time.Minute).Sub(now))
	before := e.count("audit_entries")
	for i := 0; i < n; i++ {
		tok := fmt.Sprintf("gst_bogus%039d", i)
		if r := e.api("GET", routes[i%len(routes)], tok, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	own := e.count("audit_entries") - before
	if own != 5 {
		t.Fatalf("%d entries written during the flood, want 5 (the rest folded)", own)
	}
	e.clock.Advance(time.Minute)
	if err := e.app.Web.FlushRefusals(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	es, err := e.app.Audit.List(context.Background(), audit.Filter{Action: web.FoldAction})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 {
		t.Fatalf("%d summaries, want 1", len(es))
	}
	s := es[0]
	if s.Outcome != audit.Refused || s.ObjectID != "127.0.0.1" || s.RemoteAddr != "127.0.0.1" || s.Details["count"] != float64(n-own) {
		t.Errorf("summary %+v", s)
	}
	if reasons, _ := s.Details["reasons"].(map[string]any); reasons["identity.token_invalid"] != float64(n-own) {
		t.Errorf("summary reasons %v", s.Details["reasons"])
	}
	if routes, _ := s.Details["routes"].(map[string]any); len(routes) != 4 {
		t.Errorf("summary routes %v", s.Details["routes"])
	}
	// Nothing more to flush.
	if err := e.app.Web.FlushRefusals(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if es, _ := e.app.Audit.List(context.Background(), audit.Filter{Action: web.FoldAction}); len(es) != 1 {
		t.Errorf("%d summaries after a second flush", len(es))
	}
	// Signed-in callers' refusals are never folded.
	before = e.count("audit_entries")
	for i := 0; i < 10; i++ {
		e.api("GET", fmt.Sprint("/api/v1/users?org_id=", e.account("op.hongtu").OrgID), e.account("op.ganshu").Token, nil)
	}
	if got := e.count("audit_entries") - before; got != 10 {
		t.Errorf("%d entries for 10 refusals of a signed-in caller", got)
	}
}
