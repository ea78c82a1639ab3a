package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Finding 9 of issue 15: a NUL character in a token name, a case's text,
// a login or an audit filter gave 500 on PostgreSQL (which cannot store
// it), and the login attempt left no audit entry. NUL and invalid UTF-8
// are refused at the edge, in the path, the query, forms and JSON bodies,
// with 400 and a message, audited, on both stores.
func TestNULAndInvalidUTF8Refused(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, pg)
			tok := e.account("op.ganshu").Token
			raw := func(method, path, token, body string) response {
				hdr := map[string]string{"Content-Type": "application/json"}
				if token != "" {
					hdr["Authorization"] = "Bearer " + token
				}
				c := &client{t: t, e: e, http: e.srv.Client()}
				return c.do(method, path, strings.NewReader(body), hdr)
			}
			cases := []struct {
				name string
				call func() response
			}{
				{"token name with NUL", func() response { return raw("POST", "/api/v1/tokens", tok, `{"name":"a\u0000b"}`) }},
				{"token name with invalid UTF-8", func() response { return raw("POST", "/api/v1/tokens", tok, "{\"name\":\"a\xffb\"}") }},
				{"case text with NUL", func() response {
					return raw("POST", "/api/v1/cases", "", `{"kind":"objection","resource_id":1,"description":"企业地址不符\u0000请核实。","contact":"13800138000"}`)
				}},
				{"audit filter with NUL", func() response { return raw("GET", "/api/v1/audit/entries?action=%00", tok, "") }},
				{"search with invalid UTF-8", func() response { return raw("GET", "/api/v1/catalog/search?q=%ff", "", "") }},
				{"path with NUL", func() response { return raw("GET", "/api/v1/registry/lookup/a%00b", "", "") }},
				{"login with NUL", func() response {
					c := e.client()
					csrf := c.csrf("/login")
					return c.postForm("/login", url.Values{"login": {"ad\x00min"}, "password": {"x"}, "csrf_token": {csrf}})
				}},
				{"console audit filter with NUL", func() response {
					c := e.client()
					c.mustLogin("admin")
					return c.get("/console/audit?action=%00")
				}},
				{"console form with NUL", func() response {
					c := e.client()
					c.mustLogin("op.ganshu")
					csrf := c.csrf("/console/tokens")
					return c.postForm("/console/tokens", url.Values{"csrf_token": {csrf}, "name": {"x\x00y"}})
				}},
			}
			for _, tc := range cases {
				before := e.count("audit_entries")
				r := tc.call()
				if r.status != http.StatusBadRequest {
					t.Errorf("%s: status %d, want 400: %.300s", tc.name, r.status, r.body)
					continue
				}
				if !strings.Contains(r.body, "不可见的控制字符") {
					t.Errorf("%s: the message does not say what is wrong: %.300s", tc.name, r.body)
				}
				if e.count("audit_entries") <= before {
					t.Errorf("%s: refusal not audited", tc.name)
				}
			}
		})
	}
}
