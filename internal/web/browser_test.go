package web_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium from GONGSHU_TEST_BROWSER, or skips.
// CI always sets the variable, so there the test always runs.
func browser(t *testing.T) context.Context {
	t.Helper()
	exec := os.Getenv("GONGSHU_TEST_BROWSER")
	if exec == "" {
		t.Skip("GONGSHU_TEST_BROWSER not set (CI sets it to /usr/bin/chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exec),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		// The test server's certificate is self-signed.
		chromedp.Flag("ignore-certificate-errors", true),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exec, err)
	}
	return ctx
}

// page drives one browser tab, failing the test on the first error.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatal(err)
	}
}

func (p page) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// waitText waits until the element's text is want: after a form posts,
// the element of the page being left is still there until the next page
// replaces it, so waiting for it to be visible is not enough.
func (p page) waitText(sel, want string) {
	p.t.Helper()
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
		if err == nil {
			if got = s; got == want {
				return
			}
		}
	}
	p.t.Fatalf("text of %s: %q, want %q", sel, got, want)
}

func (p page) login(base, login, password string) {
	p.t.Helper()
	p.do(
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{})
			return err
		}),
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#login"), login),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
}

// R4.1: each role logs in through the real login page, sees the navigation
// of its role (and not another's), is refused pages outside it, and can
// switch the console to English and back.
func TestBrowserEveryRole(t *testing.T) {
	p := page{t, browser(t)}
	e := newEnv(t, false)
	base := e.srv.URL
	roles := []struct {
		login    string
		roleText string // the role badge in Chinese
		users    bool   // may open the user administration
		auditAll bool   // sees the whole audit log
	}{
		{"admin", "平台管理员", true, true},
		{"authority", "数据主管部门", false, true},
		{"government", "人民政府", false, false},
		{"agency", "实施机构", false, true},
		{"dept.amr", "数据提供单位", false, false},
		{"utility.power", "数据提供单位", false, false},
		{"op.ganshu", "运营机构", false, false},
		{"user.huiqi", "数据使用方", false, false},
		{"regulator.cac", "监管部门", false, true},
		{"nc.authority", "数据主管部门", false, true},
	}
	for _, r := range roles {
		acct := e.account(r.login)
		p.login(base, acct.Login, acct.Password)
		p.do(chromedp.WaitVisible(chromedp.CSS("#whoami")))
		roleText, navText := p.text("#roles"), p.text("#nav")
		navLinks, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#nav a')).map(a => a.getAttribute('href'))`))
		if err != nil {
			t.Fatal(err)
		}
		p.do(chromedp.Navigate(base+"/console/users"), chromedp.WaitVisible(chromedp.CSS("main")))
		usersPage := p.text("main")
		p.do(chromedp.Navigate(base + "/console/audit"))
		auditHeading := p.text("main h1")

		if !strings.Contains(roleText, r.roleText) {
			t.Errorf("%s: roles %q, want %q", r.login, roleText, r.roleText)
		}
		if !strings.Contains(navText, "工作台") {
			t.Errorf("%s: navigation not in Chinese: %q", r.login, navText)
		}
		hasUsers := false
		for _, l := range navLinks {
			hasUsers = hasUsers || l == "/console/users"
		}
		if hasUsers != r.users {
			t.Errorf("%s: users link = %v, want %v (%v)", r.login, hasUsers, r.users, navLinks)
		}
		if r.users != strings.Contains(usersPage, "用户管理") || r.users == strings.Contains(usersPage, "无权") {
			t.Errorf("%s: /console/users shows %q", r.login, usersPage)
		}
		wantHeading := "本机构操作记录"
		if r.auditAll {
			wantHeading = "审计日志"
		}
		if auditHeading != wantHeading {
			t.Errorf("%s: audit heading %q, want %q", r.login, auditHeading, wantHeading)
		}

		// Switch to English and back, then sign out.
		p.do(
			chromedp.Navigate(base+"/console"),
			chromedp.WaitVisible(chromedp.CSS("#lang-switch")),
			chromedp.Click(chromedp.CSS("#lang-switch")),
			chromedp.WaitVisible(chromedp.CSS("#whoami")),
		)
		enNav := p.text("#nav")
		lang, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
		if err != nil {
			t.Fatal(err)
		}
		p.do(chromedp.Click(chromedp.CSS("#lang-switch")), chromedp.WaitVisible(chromedp.CSS("#whoami")))
		zhNav := p.text("#nav")
		p.do(chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#portal-title")))
		if !strings.Contains(enNav, "Dashboard") || lang != "en" {
			t.Errorf("%s: English navigation %q (lang %q)", r.login, enNav, lang)
		}
		if !strings.Contains(zhNav, "工作台") {
			t.Errorf("%s: back to Chinese: %q", r.login, zhNav)
		}
	}

	// A wrong password shows the reason on the page, in Chinese.
	p.login(base, "op.ganshu", "not-the-password-1A")
	p.do(chromedp.WaitVisible(chromedp.CSS("#form-error")))
	if msg := p.text("#form-error"); !strings.Contains(msg, "账号或密码不正确") {
		t.Errorf("login error %q", msg)
	}
}

// R12.2: a regulator opens the audit log in the console, sees the public
// key, opens an entry and verifies it against the signed checkpoint.
func TestBrowserAuditVerify(t *testing.T) {
	p := page{t, browser(t)}
	e := newEnv(t, false)
	id := otherEntry(e)
	acct := e.account("regulator.cac")
	p.login(e.srv.URL, acct.Login, acct.Password)
	p.do(chromedp.WaitVisible(chromedp.CSS("#whoami")), chromedp.Navigate(e.srv.URL+"/console/audit"), chromedp.WaitVisible(chromedp.CSS("#verifier-key")))
	if key := p.text("#verifier-key"); key != e.app.Tree.VerifierKey() {
		t.Errorf("console key %q, want %q", key, e.app.Tree.VerifierKey())
	}
	p.do(
		chromedp.Navigate(e.srv.URL+"/console/audit/"+itoa(id)),
		chromedp.WaitVisible(chromedp.CSS("#verify")),
		chromedp.Click(chromedp.CSS("#verify")),
		chromedp.WaitVisible(chromedp.CSS("#verify-result")),
	)
	if got := p.text("#verify-result"); !strings.Contains(got, "已验证") {
		t.Errorf("verification result %q", got)
	}
}

// R13.1: the public browses the catalog without logging in, searches 社保,
// opens a resource (metadata only, never data) and its certificate.
func TestBrowserCatalog(t *testing.T) {
	p := page{t, browser(t)}
	e := newEnv(t, false)
	e.seedRegistry()
	p.do(
		chromedp.Navigate(e.srv.URL+"/catalog"),
		chromedp.WaitVisible(chromedp.CSS("#catalog-search")),
	)
	if got := p.text("#facets"); !strings.Contains(got, "社保") || !strings.Contains(got, "江西省市场监督管理局") {
		t.Errorf("facets %q", got)
	}
	p.do(
		// Typed text reaches the field through an input method, not key
		// events, for Chinese: set it as the input method would.
		chromedp.SetValue(chromedp.CSS("#catalog-q"), "社保"),
		chromedp.Click(chromedp.CSS("#catalog-go")),
		// The results page renders the query into the field's attribute.
		chromedp.WaitVisible(chromedp.CSS(`#catalog-q[value="社保"]`)),
	)
	results := p.text("#results")
	if !strings.Contains(results, "社会保险参保缴费信息") || strings.Contains(results, "企业登记信息") {
		t.Fatalf("search 社保 gave %q", results)
	}
	p.do(
		chromedp.Click(chromedp.CSS("#results article h2 a")),
		chromedp.WaitVisible(chromedp.CSS("#resource-name")),
	)
	if got := p.text("#columns"); !strings.Contains(got, "公民身份号码") {
		t.Errorf("column list %q", got)
	}
	p.do(
		chromedp.Click(chromedp.CSS("#certificate-link")),
		chromedp.WaitVisible(chromedp.CSS("#certificate")),
	)
	if got := p.text("#cert-name"); got != "社会保险参保缴费信息" {
		t.Errorf("certificate of %q", got)
	}
	if code := p.text("#cert-code"); len(code) != 19 {
		t.Errorf("certificate number %q", code)
	}
}
