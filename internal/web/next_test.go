package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// openRedirects are values of `next` that a browser would follow off the
// site (or that are not plain paths of it): each must land on the
// console's own default instead. Finding 5 of issue 15 (OWASP ASVS V5.1.5).
var openRedirects = []string{
	"/\t/evil.example/x", // the finding: next=/%09/evil.example/x
	"/%09/evil.example/x",
	"/\n/evil.example", "/\r/evil.example", "/ /evil.example", "/\x00/evil.example", "/\x7f/evil.example",
	"//evil.example", "///evil.example", "////evil.example",
	"/\\evil.example", "\\\\evil.example", "/\\/evil.example", "\\/evil.example",
	"https:evil.example", "https://evil.example/", "http:/evil.example", "HTTPS://evil.example",
	"javascript:alert(1)", "data:text/html,x", "//evil.example@site",
	" //evil.example", "\t//evil.example", "%2F%2Fevil.example", "/%2F%2Fevil.example", "/%5Cevil.example",
	"evil.example", "", ".",
}

// Post-login and language redirects accept only same-origin absolute paths.
func TestNextOnlySameOriginPaths(t *testing.T) {
	e := newEnv(t, false)
	for _, next := range openRedirects {
		if strings.ContainsRune(next, 0) {
			// Refused at the edge with 400 (finding 9), no redirect at all.
			if r := e.client().get("/lang?to=en&next=" + url.QueryEscape(next)); r.status != http.StatusBadRequest {
				t.Errorf("lang next=%q: %d, want 400", next, r.status)
			}
			continue
		}
		c := e.client()
		tok := c.csrf("/login")
		a := e.account("user.huiqi")
		r := c.postForm("/login", url.Values{"login": {a.Login}, "password": {a.Password}, "csrf_token": {tok}, "next": {next}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/console" {
			t.Errorf("login next=%q: %d → %q, want /console", next, r.status, r.header.Get("Location"))
		}
		l := c.get("/lang?to=en&next=" + url.QueryEscape(next))
		if loc := l.header.Get("Location"); loc != "/" && loc != "/console" {
			t.Errorf("lang next=%q → %q", next, loc)
		}
		// The login page carries next into its form only when it is safe.
		p := e.client().get("/login?next=" + url.QueryEscape(next))
		if !strings.Contains(p.body, `name="next" value="/console"`) {
			t.Errorf("login page next=%q: the form's next is not /console", next)
		}
	}
	// Plain paths of the site survive, query included.
	for _, next := range []string{"/console/registry/7", "/console/cases?state=raised&overdue=1", "/catalog?q=%E7%A4%BE%E4%BF%9D"} {
		c := e.client()
		tok := c.csrf("/login")
		a := e.account("user.huiqi")
		r := c.postForm("/login", url.Values{"login": {a.Login}, "password": {a.Password}, "csrf_token": {tok}, "next": {next}})
		if r.header.Get("Location") != next {
			t.Errorf("login next=%q → %q", next, r.header.Get("Location"))
		}
	}
}
