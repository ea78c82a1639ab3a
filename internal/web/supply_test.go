package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/registry"
)

// enterpriseCSV is a small enterprise registry with valid credit codes.
const enterpriseCSV = "uscc,name,district,capital\n" +
	"91360100MA35GJ3T28,南昌赣江科技有限公司,360102,500\n" +
	"91360100MA38L6YB7H,南昌红谷贸易有限公司,360103,120\n" +
	"91360100MA39Q2KEXY,赣州稀金材料有限公司,360702,3000\n"

// upload calls a file endpoint with a raw body.
func (e *env) upload(path, token, contentType string, body io.Reader) response {
	e.t.Helper()
	hdr := map[string]string{"Content-Type": contentType}
	if token != "" {
		hdr["Authorization"] = "Bearer " + token
	}
	c := &client{t: e.t, e: e, http: e.srv.Client()}
	return c.do("POST", path, body, hdr)
}

// loaded registers a resource held by dept.amr and loads the CSV into it.
func (e *env) loaded() registry.Item {
	e.t.Helper()
	it := e.registeredPool(1)[0]
	r := e.upload(fmt.Sprintf("/api/v1/resources/%d/loads?name=ent.csv", it.ID), e.account("dept.amr").Token, "text/csv", strings.NewReader(enterpriseCSV))
	if r.status != http.StatusCreated {
		e.t.Fatalf("load: %d %s", r.status, r.body)
	}
	return it
}

// supplyCases are the data-loading rows of the role matrix: the holding
// department and the agency (whose administrator runs the platform) load
// and tag; anyone may see a public resource's data versions.
func supplyCases(e *env) []apiCase {
	pub := e.loaded()
	holders := []string{"admin", "agency", "dept.amr"}
	csvCall := func(kind string) func(e *env, login, token string) response {
		return func(e *env, login, token string) response {
			return e.upload(fmt.Sprintf("/api/v1/resources/%d/%s?format=csv", pub.ID, kind), token, "text/csv", strings.NewReader(enterpriseCSV))
		}
	}
	return []apiCase{
		{route: "POST /api/v1/resources/{id}/previews", call: csvCall("previews"), allowed: holders},
		{route: "POST /api/v1/resources/{id}/loads", call: csvCall("loads"), allowed: holders},
		{route: "GET /api/v1/resources/{id}/data-versions", call: get(fmt.Sprintf("/api/v1/resources/%d/data-versions", pub.ID)), allowed: everyone, public: true},
		{route: "GET /api/v1/resources/{id}/tags", call: get(fmt.Sprintf("/api/v1/resources/%d/tags", pub.ID)), allowed: everyone},
		{route: "POST /api/v1/resources/{id}/tags", call: func(e *env, login, token string) response {
			return e.api("POST", fmt.Sprintf("/api/v1/resources/%d/tags", pub.ID), token, map[string]string{
				"column": "name", "tag": "none", "reason": "企业名称为公示信息"})
		}, allowed: holders},
		{route: "PUT /api/v1/resources/{id}/privacy-unit", call: func(e *env, login, token string) response {
			return e.api("PUT", fmt.Sprintf("/api/v1/resources/%d/privacy-unit", pub.ID), token, map[string]string{
				"column": "uscc", "reason": "每行描述一个企业"})
		}, allowed: holders},
	}
}

// R5.1: a department's file becomes a version in the domain through the
// API in one call; bad input is refused with a message saying what to
// fix, audited, and leaves no version behind.
func TestSupplyAPI(t *testing.T) {
	e := newEnv(t, false)
	it := e.loaded()
	tok := e.account("dept.amr").Token
	r := e.api("GET", fmt.Sprintf("/api/v1/resources/%d/data-versions", it.ID), "", nil)
	var vs struct {
		Versions []map[string]any `json:"versions"`
	}
	r.json(t, &vs)
	if len(vs.Versions) != 1 || vs.Versions[0]["rows"].(float64) != 3 {
		t.Fatalf("data versions = %s", r.body)
	}
	if strings.Contains(r.body, "赣江科技") || strings.Contains(r.body, "loaded_by") {
		t.Errorf("public versions leak values or the loader: %s", r.body)
	}
	tags := e.api("GET", fmt.Sprintf("/api/v1/resources/%d/tags", it.ID), tok, nil)
	if !strings.Contains(tags.body, `"column":"uscc"`) || !strings.Contains(tags.body, "direct_identifier") {
		t.Errorf("the credit code column was not proposed as a direct identifier: %s", tags.body)
	}
	cases := []struct {
		name, path, ctype, body, field string
	}{
		{"unknown format", "loads?name=ent.doc", "application/octet-stream", "x", "format"},
		{"empty body", "loads?format=csv", "text/csv", "", ""},
		{"not postgres", "loads", "application/json", `{"format":"csv","url":"postgres://x/y","table":"t"}`, "format"},
		{"bad url", "loads", "application/json", `{"url":"mysql://x","table":"t"}`, "url"},
		{"no table", "loads", "application/json", `{"url":"postgres://x/y"}`, "table"},
		{"unreadable csv", "loads?format=parquet", "application/octet-stream", "not parquet at all", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, audited := e.count("supply_versions"), e.count("audit_entries")
			r := e.upload(fmt.Sprintf("/api/v1/resources/%d/%s", it.ID, tc.path), tok, tc.ctype, strings.NewReader(tc.body))
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			ae := r.apiError(t)
			if tc.field != "" && ae.Error.Field != tc.field {
				t.Errorf("field = %q, want %q (%s)", ae.Error.Field, tc.field, r.body)
			}
			if e.count("supply_versions") != before {
				t.Error("a refused load left a version")
			}
			if e.count("audit_entries") <= audited {
				t.Error("refusal not audited")
			}
		})
	}
}

var stagedField = regexp.MustCompile(`name="staged" value="([^"]+)"`)

// multipartForm builds the console's upload form, the CSRF token first.
func multipartForm(t *testing.T, fields [][2]string, fileName, content string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if fileName != "" {
		fw, err := mw.CreateFormFile("file", fileName)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(fw, content)
	}
	mw.Close()
	return mw.FormDataContentType(), &buf
}

// R5.1, R6.1: the console's upload, preview, confirmed background load,
// tag confirmation with a reason and privacy unit, as the holding
// department; an operator sees the versions but none of the forms and is
// refused (audited) if it posts anyway.
func TestSupplyConsoleFlow(t *testing.T) {
	e := newEnv(t, false)
	it := e.registeredPool(1)[0]
	page := fmt.Sprintf("/console/registry/%d/data", it.ID)
	c := e.client()
	c.mustLogin("dept.amr")
	tok := c.csrf(page)

	// A file of unknown format is refused with the reason on the page.
	ct, body := multipartForm(t, [][2]string{{"csrf_token", tok}, {"format", "auto"}}, "ent.doc", "x")
	r := c.do("POST", page+"/upload", body, map[string]string{"Content-Type": ct})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "CSV、XLSX 或 Parquet") {
		t.Fatalf("bad format: %d %s", r.status, r.body)
	}
	// Without the CSRF token nothing is stored.
	ct, body = multipartForm(t, nil, "ent.csv", enterpriseCSV)
	if r := c.do("POST", page+"/upload", body, map[string]string{"Content-Type": ct}); r.status != http.StatusForbidden {
		t.Fatalf("upload without csrf: %d", r.status)
	}

	ct, body = multipartForm(t, [][2]string{{"csrf_token", tok}, {"format", "auto"}}, "ent.csv", enterpriseCSV)
	r = c.do("POST", page+"/upload", body, map[string]string{"Content-Type": ct})
	if r.status != http.StatusOK || !strings.Contains(r.body, "赣江科技") || !strings.Contains(r.body, `id="confirm-load"`) {
		t.Fatalf("preview: %d %s", r.status, r.body)
	}
	if e.count("supply_versions") != 0 {
		t.Fatal("a preview loaded data")
	}
	staged := stagedField.FindStringSubmatch(r.body)[1]
	// Only its uploader can confirm a staged source.
	other := e.client()
	other.mustLogin("agency")
	if r := other.postForm(page+"/load", url.Values{"csrf_token": {other.csrf(page)}, "staged": {staged}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("someone else's staged upload: %d", r.status)
	}
	if r := c.postForm(page+"/load", url.Values{"csrf_token": {tok}, "staged": {staged}}); r.status != http.StatusSeeOther {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = c.get(page)
		if strings.Contains(r.body, "v1") && !strings.Contains(r.body, `http-equiv="refresh"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("load did not finish: %s", r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(r.body, `id="data-versions"`) || !strings.Contains(r.body, "ent.csv") {
		t.Fatalf("no version on the page: %s", r.body)
	}
	// The staged file is gone once loaded.
	if _, err := e.app.Supply.Latest(context.Background(), it.ID); err != nil {
		t.Fatal(err)
	}

	// Tag confirmation needs a reason; with one it records who and why.
	if r := c.postForm(page+"/tags", url.Values{"csrf_token": {tok}, "column": {"uscc"}, "tag": {"direct_identifier"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("tag without reason: %d", r.status)
	}
	if r := c.postForm(page+"/tags", url.Values{"csrf_token": {tok}, "column": {"uscc"}, "tag": {"direct_identifier"}, "reason": {"统一社会信用代码唯一标识企业"}}); r.status != http.StatusSeeOther {
		t.Fatalf("tag: %d %s", r.status, r.body)
	}
	if r := c.postForm(page+"/unit", url.Values{"csrf_token": {tok}, "column": {"uscc"}, "reason": {"每行描述一个企业"}}); r.status != http.StatusSeeOther {
		t.Fatalf("unit: %d %s", r.status, r.body)
	}
	r = c.get(page)
	if !strings.Contains(r.body, "统一社会信用代码唯一标识企业") || !strings.Contains(r.body, `<code>uscc</code></strong>`) {
		t.Errorf("confirmation not shown: %s", r.body)
	}
	tags, err := e.app.Supply.TagHistory(context.Background(), it.ID, "uscc")
	if err != nil || !tags[len(tags)-1].Confirmed() || tags[len(tags)-1].ConfirmedByLogin != "dept.amr" {
		t.Errorf("tag history = %+v, %v", tags, err)
	}

	// An operator sees the versions of a public resource, not the forms,
	// and a forced post is refused and audited.
	op := e.client()
	op.mustLogin("op.ganshu")
	r = op.get(page)
	if r.status != http.StatusOK || strings.Contains(r.body, `id="upload"`) || strings.Contains(r.body, `action="`+page+`/tags"`) {
		t.Fatalf("operator's view: %d %s", r.status, r.body)
	}
	before := e.count("audit_entries")
	ct, body = multipartForm(t, [][2]string{{"csrf_token", op.csrf(page)}}, "ent.csv", enterpriseCSV)
	if r := op.do("POST", page+"/upload", body, map[string]string{"Content-Type": ct}); r.status != http.StatusForbidden {
		t.Fatalf("operator upload: %d", r.status)
	}
	if e.count("audit_entries") <= before {
		t.Error("operator's upload not audited")
	}

	// The public resource page lists the version and never a value.
	pub := e.client().get(fmt.Sprintf("/catalog/%d", it.ID))
	if !strings.Contains(pub.body, `id="data-versions"`) || strings.Contains(pub.body, "赣江科技") {
		t.Errorf("catalog page: %s", pub.body)
	}
}
