package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/demo"
)

// syncBuffer is an io.Writer safe to read while the program writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func runCmd(t *testing.T, vars map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb syncBuffer
	err := run(context.Background(), args, env(vars), &out, &errb)
	return out.String(), errb.String(), err
}

func TestVersionAndUsage(t *testing.T) {
	out, _, err := runCmd(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "gongshu ") {
		t.Fatalf("version: %q %v", out, err)
	}
	if _, _, err := runCmd(t, nil); err == nil {
		t.Error("no command accepted")
	}
	if _, errOut, err := runCmd(t, nil, "frobnicate"); err == nil || !strings.Contains(errOut, "Usage") {
		t.Errorf("unknown command: %v", err)
	}
	for _, cmd := range [][]string{{"serve", "--help"}, {"demo", "--help"}, {"migrate", "--help"}, {"user", "create", "--help"}, {"token", "create", "--help"}} {
		_, errOut, err := runCmd(t, nil, cmd...)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut, "GONGSHU_<NAME>") || !strings.Contains(errOut, "-data") {
			t.Errorf("%v --help: %v\n%s", cmd, err, errOut)
		}
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runCmd(t, map[string]string{"GONGSHU_DATA": dir}, "migrate")
	if err != nil || !strings.Contains(out, "schema version") {
		t.Fatalf("migrate via GONGSHU_DATA: %q %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gongshu.db")); err != nil {
		t.Fatal(err)
	}
	// A flag on the command line wins over the environment.
	other := t.TempDir()
	if _, _, err := runCmd(t, map[string]string{"GONGSHU_DATA": dir}, "migrate", "--data", other); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(other, "gongshu.db")); err != nil {
		t.Fatal("--data did not override GONGSHU_DATA")
	}
	if _, _, err := runCmd(t, map[string]string{"GONGSHU_DATA": dir, "GONGSHU_LOG_FORMAT": "xml"}, "migrate"); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Errorf("bad GONGSHU_LOG_FORMAT: %v", err)
	}
	if _, _, err := runCmd(t, nil, "migrate"); err == nil || !strings.Contains(err.Error(), "--data") {
		t.Errorf("no data dir: %v", err)
	}
	if _, _, err := runCmd(t, nil, "migrate", "--data", dir, "--db", "mysql://x"); err == nil {
		t.Error("unsupported --db accepted")
	}
}

// The demo starts, answers /healthz, writes its credentials, and its
// accounts and tokens work; then the admin commands work on its data.
func TestDemoAndAdminCommands(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- run(ctx, []string{"demo", "--data", dir, "--addr", "127.0.0.1:0", "--scale", "0.001"}, env(nil), &out, &errb)
	}()
	urlRE := regexp.MustCompile(`serving at (http://\S+)`)
	var base string
	for deadline := time.Now().Add(60 * time.Second); base == ""; {
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("demo exited: %v\n%s\n%s", err, out.String(), errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo did not start:\n%s\n%s", out.String(), errb.String())
		}
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	t.Logf("demo answered /healthz %s after start (fresh data dir, seeding included)", time.Since(start).Round(time.Millisecond))
	if c := loginCookie(t, base); !strings.Contains(c, "Secure") {
		t.Errorf("cookie without Secure by default: %s", c)
	}

	creds, err := demo.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if creds.URL != base || len(creds.Accounts) < 19 {
		t.Fatalf("credentials: url %q, %d accounts", creds.URL, len(creds.Accounts))
	}
	if fi, _ := os.Stat(filepath.Join(dir, demo.CredentialsFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v", fi.Mode().Perm())
	}
	for _, a := range creds.Accounts {
		if a.Login == "" || a.Password == "" || a.Role == "" || a.Organization == "" || !strings.HasPrefix(a.Token, "gst_") {
			t.Errorf("incomplete account %+v", a)
		}
		if !strings.Contains(out.String(), a.Login) {
			t.Errorf("account %s not printed", a.Login)
		}
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+creds.Accounts[0].Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("me with demo token: %v %v", resp, err)
	}
	var me struct{ User struct{ Login string } }
	_ = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if me.User.Login != creds.Accounts[0].Login {
		t.Errorf("me = %+v", me)
	}
	// The demo's registrations: registered resources are public, with a
	// valid identifier; the authority's queue holds the others.
	req, _ = http.NewRequest("GET", base+"/api/v1/registry/items", nil)
	req.Header.Set("Authorization", "Bearer "+creds.Accounts[0].Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("registry items: %v %v", resp, err)
	}
	var items struct {
		Items []struct{ Code, Status, Kind string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&items)
	resp.Body.Close()
	states := map[string]int{}
	for _, it := range items.Items {
		states[it.Kind+"/"+it.Status]++
	}
	if states["resource/registered"] < 7 || states["resource/submitted"] < 1 || states["product/submitted"] != 1 {
		t.Errorf("demo registrations: %v", states)
	}
	// The synthetic datasets load in the background, each as a resource's
	// first version, audited as the holding department's user.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, _ = http.NewRequest("GET", base+"/api/v1/audit/entries?action=supply.load&limit=50", nil)
		req.Header.Set("Authorization", "Bearer "+creds.Accounts[0].Token)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var loads struct {
			Entries []struct{ Outcome string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&loads)
		resp.Body.Close()
		ok := 0
		for _, e := range loads.Entries {
			if e.Outcome == "ok" {
				ok++
			}
		}
		if ok == 7 {
			break
		}
		if len(loads.Entries) > ok || time.Now().After(deadline) {
			t.Fatalf("demo data loads: %+v", loads.Entries)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo stopped with %v", err)
	}

	// Restarting the demo on the same directory reuses it.
	ctx2, cancel2 := context.WithCancel(context.Background())
	var out2 syncBuffer
	done2 := make(chan error, 1)
	go func() {
		done2 <- run(ctx2, []string{"demo", "--data", dir, "--addr", "127.0.0.1:0", "--insecure-cookies"}, env(nil), &out2, &errb)
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out2.String(), "serving at"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("second demo start:\n%s", errb.String())
		}
	}
	if !strings.Contains(out2.String(), creds.Accounts[0].Password) {
		t.Error("second start does not print the same accounts")
	}
	// --insecure-cookies (plain HTTP on a name other than localhost)
	// drops Secure, or no browser could sign in there.
	if m := urlRE.FindStringSubmatch(out2.String()); m == nil {
		t.Error("second start prints no address")
	} else if c := loginCookie(t, m[1]); c == "" || strings.Contains(c, "Secure") {
		t.Errorf("cookie with --insecure-cookies: %q", c)
	} else {
		for _, a := range creds.Accounts {
			crawlConsole(t, m[1], a.Login, a.Password)
		}
	}
	cancel2()
	<-done2

	vars := map[string]string{"GONGSHU_DATA": dir}
	orgID := creds.Accounts[len(creds.Accounts)-1].OrgID
	// user create: a weak password is refused with a clear message.
	_, _, err = runCmd(t, vars, "user", "create", "--login", "cli.user", "--name", "命令行", "--org", itoa(orgID), "--role", "regulator", "--password", "short")
	if err == nil || !strings.Contains(err.Error(), "at least 12") {
		t.Errorf("weak password: %v", err)
	}
	vars["GONGSHU_PASSWORD"] = "Cli-Passw0rd-2026"
	o, _, err := runCmd(t, vars, "user", "create", "--login", "cli.user", "--name", "命令行", "--org", itoa(orgID), "--role", "regulator")
	if err != nil || !strings.Contains(o, "created user cli.user") {
		t.Fatalf("user create: %q %v", o, err)
	}
	vars["GONGSHU_PASSWORD"] = "Cli-Passw0rd-2027"
	if o, _, err := runCmd(t, vars, "user", "passwd", "--login", "cli.user"); err != nil || !strings.Contains(o, "changed") {
		t.Fatalf("user passwd: %q %v", o, err)
	}
	o, e, err := runCmd(t, vars, "token", "create", "--user", "cli.user", "--days", "7")
	if err != nil || !strings.HasPrefix(o, "gst_") || !strings.Contains(e, "shown only now") {
		t.Fatalf("token create: %q %q %v", o, e, err)
	}
	if _, _, err := runCmd(t, vars, "token", "create", "--user", "nobody"); err == nil || !strings.Contains(err.Error(), "no account") {
		t.Errorf("token for unknown user: %v", err)
	}
	if _, _, err := runCmd(t, vars, "token", "create", "--user", "cli.user", "--days", "999"); err == nil || !strings.Contains(err.Error(), "366") {
		t.Errorf("token too long: %v", err)
	}
	// R12.2: the audit log of everything above verifies, and its key is the demo's.
	o, _, err = runCmd(t, vars, "audit", "check")
	if err != nil || !strings.Contains(o, "(sm3)") || !strings.Contains(o, "entries verified") {
		t.Fatalf("audit check: %q %v", o, err)
	}
	if _, _, err := runCmd(t, vars, "migrate", "--audit-suite", "md5"); err == nil || !strings.Contains(err.Error(), "sm3 or sha256") {
		t.Errorf("bad suite: %v", err)
	}
	// Export one organisation's entries and verify the bundle offline.
	bundle := filepath.Join(t.TempDir(), "bundle.json")
	_, e, err = runCmd(t, vars, "audit", "export", "-o", bundle, "--from", "2020-01-01")
	if err != nil || !strings.Contains(e, "exported") {
		t.Fatalf("export: %q %v", e, err)
	}
	keyRE := regexp.MustCompile(`--key '([^']+)'`)
	m := keyRE.FindStringSubmatch(e)
	if m == nil {
		t.Fatalf("no key in %q", e)
	}
	o, _, err = runCmd(t, nil, "audit", "verify", bundle, "--key", m[1])
	if err != nil || !strings.HasPrefix(o, "OK: ") || strings.HasPrefix(o, "OK: 0 ") {
		t.Fatalf("verify: %q %v", o, err)
	}
	if _, _, err := runCmd(t, nil, "audit", "verify", bundle, "--key", "x+00000000+AQ=="); err == nil {
		t.Error("verified with a bogus key")
	}
	if _, _, err := runCmd(t, vars, "audit", "export", "--from", "2026-13-01"); err == nil || !strings.Contains(err.Error(), "YYYY-MM-DD") {
		t.Errorf("bad date: %v", err)
	}
	// A cosigner makes a key and countersigns the latest checkpoint offline.
	keyFile := filepath.Join(t.TempDir(), "witness.key")
	pub, _, err := runCmd(t, nil, "audit", "keygen", "--name", "jxsjj.example/witness", "-o", keyFile)
	if err != nil || !strings.HasPrefix(pub, "jxsjj.example/witness+") {
		t.Fatalf("keygen: %q %v", pub, err)
	}
	var b struct{ Checkpoint string }
	raw, _ := os.ReadFile(bundle)
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	cpFile := filepath.Join(t.TempDir(), "checkpoint")
	if err := os.WriteFile(cpFile, []byte(b.Checkpoint), 0o644); err != nil {
		t.Fatal(err)
	}
	cosigned, _, err := runCmd(t, nil, "audit", "cosign", cpFile, "--signer", keyFile, "--key", m[1])
	if err != nil || strings.Count(cosigned, "\n— ") != 2 {
		t.Fatalf("cosign: %q %v", cosigned, err)
	}
	// Issue 17, finding 4: nothing is cosigned unchecked: not without the
	// log's key, not an altered size, not a junk note.
	if _, _, err := runCmd(t, nil, "audit", "cosign", cpFile, "--signer", keyFile); err == nil {
		t.Error("cosigned without the log's key")
	}
	sizeRE := regexp.MustCompile(`\n(\d+)\n`)
	altered := sizeRE.ReplaceAllString(b.Checkpoint, "\n999999\n")
	for name, text := range map[string]string{"altered size": altered, "junk": "not a checkpoint\n\n— x y\n"} {
		bad := filepath.Join(t.TempDir(), "bad")
		if err := os.WriteFile(bad, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, _, err := runCmd(t, nil, "audit", "cosign", bad, "--signer", keyFile, "--key", m[1]); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s cosigned: %q %v", name, out, err)
		}
	}
	// Issue 17, finding 6: a --data that holds no platform is an error,
	// never a new empty log.
	empty := t.TempDir()
	for _, args := range [][]string{{"audit", "check", "--data", empty}, {"audit", "export", "--data", empty}} {
		if _, _, err := runCmd(t, nil, args...); err == nil || !strings.Contains(err.Error(), "does not hold a platform") {
			t.Errorf("%v: %v", args, err)
		}
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("the audit commands wrote into %s: %v", empty, entries)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// R9.1: deadlines on the official calendar from the command line.
func TestWorkdayCommand(t *testing.T) {
	out, _, err := runCmd(t, nil, "workday", "add", "2025-12-15", "20")
	if err != nil || out != "2026-01-13\n" {
		t.Fatalf("add: %q %v", out, err)
	}
	out, _, err = runCmd(t, nil, "workday", "between", "2026-09-15", "2026-10-19")
	if err != nil || out != "20\n" {
		t.Fatalf("between: %q %v", out, err)
	}
	_, errOut, err := runCmd(t, nil, "workday", "add", "2026-12-20", "20")
	if err != nil || !strings.Contains(errOut, "no official holiday data for 2027") {
		t.Fatalf("unknown year: %q %v", errOut, err)
	}
	cal := filepath.Join(t.TempDir(), "2027.txt")
	os.WriteFile(cal, []byte("year 2027\n2027-01-01 off 元旦\n"), 0o644)
	_, errOut, err = runCmd(t, map[string]string{"GONGSHU_CALENDAR": cal}, "workday", "add", "2026-12-20", "20")
	if err != nil || errOut != "" {
		t.Fatalf("with a 2027 file: %q %v", errOut, err)
	}
	for _, bad := range [][]string{{"workday", "add", "2025-02-30", "1"}, {"workday", "add", "2025-01-01", "-3"}, {"workday", "between", "x", "y"}, {"workday"}} {
		if _, _, err := runCmd(t, nil, bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestParseFiles(t *testing.T) {
	cases := []struct {
		args  []string
		files []string
	}{
		{[]string{"--resource", "3", "a.csv"}, []string{"a.csv"}},
		{[]string{"--resource=3", "--format", "csv", "a.txt"}, []string{"a.txt"}},
		{[]string{"a.csv"}, []string{"a.csv"}},
		{[]string{"--resource", "3"}, nil},
	}
	for _, c := range cases {
		var res int64
		var format string
		fs := newFlagSet("x", "x", io.Discard)
		fs.Int64Var(&res, "resource", 0, "")
		fs.StringVar(&format, "format", "", "")
		got, err := parseFiles(fs, c.args, env(nil))
		if err != nil || strings.Join(got, ",") != strings.Join(c.files, ",") {
			t.Errorf("%v: files %v, %v", c.args, got, err)
		}
	}
}

// loginCookie returns the Set-Cookie header of the sign-in page.
func loginCookie(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Set-Cookie")
}

var (
	csrfValue   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	consoleHref = regexp.MustCompile(`href="(/console[^"#]*)"`)
)

// crawlConsole signs in and follows the console's links breadth first:
// every link a person is shown must open (the navigation and the pages
// promise that a link appears only when the page behind it would).
func crawlConsole(t *testing.T, base, login, password string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(path string) (int, string) {
		resp, err := hc.Get(base + path)
		if err != nil {
			t.Fatalf("%s: GET %s: %v", login, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, page := get("/login")
	m := csrfValue.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("%s: no CSRF field on the sign-in page", login)
	}
	resp, err := hc.PostForm(base+"/login", url.Values{"login": {login}, "password": {password}, "csrf_token": {m[1]}, "next": {"/console"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	type link struct{ path, from string }
	queue, seen := []link{{"/console", "/login"}}, map[string]bool{}
	for len(queue) > 0 && len(seen) < 60 {
		l := queue[0]
		queue = queue[1:]
		if seen[l.path] {
			continue
		}
		seen[l.path] = true
		status, body := get(l.path)
		if status >= 400 {
			t.Errorf("%s: %s, linked from %s, answers %d", login, l.path, l.from, status)
			continue
		}
		for _, h := range consoleHref.FindAllStringSubmatch(body, -1) {
			p := strings.ReplaceAll(h[1], "&amp;", "&")
			if !seen[p] && !strings.Contains(p, "logout") && !strings.Contains(p, "export") && !strings.Contains(p, "download") {
				queue = append(queue, link{p, l.path})
			}
		}
	}
}
