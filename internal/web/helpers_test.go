package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/app"
	"github.com/gongshu/gongshu/internal/demo"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// clock is a settable clock shared by the server under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a running platform seeded with the demo cast.
type env struct {
	t     *testing.T
	app   *app.App
	srv   *httptest.Server
	clock *clock
	creds demo.Credentials
}

var cheapArgon = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

// newEnv starts the platform over TLS (so Secure cookies behave as in a
// browser) on SQLite, or on PostgreSQL when postgres is true and configured.
func newEnv(t *testing.T, postgres bool) *env {
	t.Helper()
	return newEnvWith(t, postgres, nil)
}

// newEnvWith is newEnv with the configuration adjusted by tune.
func newEnvWith(t *testing.T, postgres bool, tune func(*app.Config)) *env {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Now().UTC()}
	cfg := app.Config{DataDir: t.TempDir(), Now: clk.Now, Version: "test", Identity: identity.Options{Argon2: &cheapArgon}}
	if tune != nil {
		tune(&cfg)
	}
	if postgres {
		cfg.DBURL = storetest.PostgresURL(t)
		if cfg.DBURL == "" {
			t.Skip("GONGSHU_TEST_POSTGRES not set")
		}
	}
	a, err := app.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	creds, err := demo.Seed(ctx, a.Identity)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(a.Web)
	t.Cleanup(srv.Close)
	return &env{t: t, app: a, srv: srv, clock: clk, creds: creds}
}

func (e *env) account(login string) demo.Account {
	e.t.Helper()
	for _, a := range e.creds.Accounts {
		if a.Login == login {
			return a
		}
	}
	e.t.Fatalf("no demo account %s", login)
	return demo.Account{}
}

// client is a browser-like client: its own cookie jar, no redirects followed.
type client struct {
	t    *testing.T
	e    *env
	http *http.Client
	lang string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	// A copy: the test server's client is shared, and two people in one
	// test must not share a cookie jar.
	hc := *e.srv.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: e.t, e: e, http: &hc}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

func (c *client) do(method, path string, body io.Reader, hdr map[string]string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func (c *client) get(path string) response { return c.do("GET", path, nil, nil) }

func (c *client) postForm(path string, form url.Values) response {
	return c.do("POST", path, strings.NewReader(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf reads the CSRF token from a page's form.
func (c *client) csrf(path string) string {
	c.t.Helper()
	r := c.get(path)
	m := csrfField.FindStringSubmatch(r.body)
	if m == nil {
		c.t.Fatalf("no csrf_token on %s (status %d)", path, r.status)
	}
	return m[1]
}

// login signs in through the login form like a person would.
func (c *client) login(login, password string) response {
	c.t.Helper()
	tok := c.csrf("/login")
	return c.postForm("/login", url.Values{"login": {login}, "password": {password}, "csrf_token": {tok}})
}

func (c *client) mustLogin(login string) {
	c.t.Helper()
	a := c.e.account(login)
	if r := c.login(a.Login, a.Password); r.status != http.StatusSeeOther {
		c.t.Fatalf("login %s: status %d: %s", login, r.status, r.body)
	}
}

// api calls the JSON API with a bearer token (empty: anonymous).
func (e *env) api(method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	hdr := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		hdr["Authorization"] = "Bearer " + token
	}
	c := &client{t: e.t, e: e, http: e.srv.Client()}
	return c.do(method, path, rd, hdr)
}

type apiErr struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
		Field     string `json:"field"`
	} `json:"error"`
}

func (r response) apiError(t *testing.T) apiErr {
	t.Helper()
	var e apiErr
	r.json(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not the error shape: %s", r.body)
	}
	return e
}

func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.app.DB.QueryRow(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func t0() context.Context { return context.Background() }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// apiLang is api with an Accept-Language header.
func (e *env) apiLang(method, path, token, lang string, body any) response {
	e.t.Helper()
	b, _ := json.Marshal(body)
	c := &client{t: e.t, e: e, http: e.srv.Client(), lang: lang}
	return c.do(method, path, strings.NewReader(string(b)), map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token})
}

func mintCode() string { return identity.MakeCreditCode('9', '1', "360100", "MA3TEXT1") }
