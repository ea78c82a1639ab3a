// Package web is the HTTP face of the platform: the console for the roles
// that run and use it, the public portal, the JSON API under /api/v1 with
// its OpenAPI document, health and metrics. It authenticates callers
// (session cookie or bearer token), guards forms against CSRF, speaks the
// caller's language from the i18n catalogs, and maps service errors to one
// error shape. It holds no rules of its own: every decision is a service's.
package web

import (
	"context"
	"crypto/rand"
	"embed"
	"fmt"
	"github.com/gongshu/gongshu/internal/governance"
	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/quality"
	"github.com/gongshu/gongshu/internal/sandbox"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/i18n"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/registry"
	"github.com/gongshu/gongshu/internal/supply"
)

//go:embed templates/*.html templates/partials/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

//go:embed openapi.json
var openAPIDoc []byte

// Pinger is the health check of a dependency.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Config is what the server needs; cmd/gongshu wires it.
type Config struct {
	Identity *identity.Service
	Registry *registry.Service
	// Supply loads departments' data into the domain; nil when the
	// process has no domain (a control-plane-only run), and the data
	// pages and endpoints are then not served.
	Supply *supply.Service
	// Quality shows data-quality scores and runs rules; nil without a domain.
	Quality *quality.Service
	// Sandbox runs operators' workspaces and queries; nil without a domain.
	Sandbox *sandbox.Service
	// Grant runs plans, selections and agreements.
	Grant *grant.Service
	// Governance answers objections, the negative list and consent.
	Governance *governance.Service
	// UploadDir receives uploaded files until they are loaded.
	UploadDir string
	// Search answers the catalog's text queries.
	Search Searcher
	// Loading reports data being loaded into the domain in the
	// background (the demo's datasets); nil: nothing to show.
	Loading func() []LoadLine
	Audit   *audit.Log
	Tree    *audit.Tree
	Catalog *i18n.Catalog
	Regions *region.Table
	DB      Pinger
	Logger  *slog.Logger
	Now     func() time.Time
	Version string
	// InsecureCookies drops the Secure attribute, for plain-HTTP deployments
	// reached by a name other than localhost; browsers accept Secure cookies
	// on http://localhost and 127.0.0.1 already.
	InsecureCookies bool
	// FoldInterval, FoldPerSource, FoldGlobal and FoldSources bound the
	// audit entries of refused anonymous requests (see fold.go); zero
	// values take the defaults (a minute, 5, 100, 1000).
	FoldInterval                           time.Duration
	FoldPerSource, FoldGlobal, FoldSources int
	// MetricsToken, when set, is the bearer token /metrics requires
	// (--metrics-token); empty: /metrics is open, as before.
	MetricsToken string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (--trusted-proxies); from anyone else the header is
	// ignored and the connection's address counts.
	TrustedProxies []netip.Prefix
	// LoginKey signs the login form's CSRF token; servers sharing a store
	// share it (empty: a key of this process alone).
	LoginKey []byte
}

// Server is the HTTP handler of the whole platform.
type Server struct {
	cfg     Config
	ids     *identity.Service
	reg     *registry.Service
	supply  *supply.Service
	quality *quality.Service
	gov     *governance.Service
	grant   *grant.Service
	sandbox *sandbox.Service
	loads   *loads
	search  Searcher
	audit   *audit.Log
	tree    *audit.Tree
	cat     *i18n.Catalog
	regions *region.Table
	logger  *slog.Logger
	now     func() time.Time
	pages   map[string]*template.Template
	mux     *http.ServeMux
	routes  []string
	metrics *metrics
	folds   *refusalFolds
	// growth is the audit log's growth, entries a minute, and its alarm
	// (SetAuditGrowth), shown on /metrics.
	growth  atomic.Pointer[auditGrowth]
	handler http.Handler
}

type auditGrowth struct {
	perMinute float64
	alarm     bool
}

// SetAuditGrowth records how fast the audit log grew and whether that
// passed the configured alarm rate, for /metrics.
func (s *Server) SetAuditGrowth(perMinute float64, alarm bool) {
	s.growth.Store(&auditGrowth{perMinute, alarm})
}

// New builds the server and its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg, ids: cfg.Identity, reg: cfg.Registry, supply: cfg.Supply, quality: cfg.Quality, gov: cfg.Governance, grant: cfg.Grant, sandbox: cfg.Sandbox, loads: newLoads(cfg.UploadDir), search: cfg.Search, audit: cfg.Audit, tree: cfg.Tree, cat: cfg.Catalog, regions: cfg.Regions,
		logger: cfg.Logger, now: cfg.Now, mux: http.NewServeMux(), metrics: newMetrics(cfg.Now()),
		folds: newRefusalFolds(cfg.FoldInterval, cfg.FoldPerSource, cfg.FoldGlobal, cfg.FoldSources),
	}
	// Files staged by an earlier run can no longer be confirmed.
	if n, err := clearUploadArea(cfg.UploadDir); err != nil {
		cfg.Logger.Warn("upload area", "err", err)
	} else if n > 0 {
		cfg.Logger.Info("upload area: removed files left by an earlier run", "files", n)
	}
	if len(cfg.LoginKey) == 0 {
		s.cfg.LoginKey = make([]byte, 32)
		if _, err := rand.Read(s.cfg.LoginKey); err != nil {
			return nil, err
		}
	}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	s.registerRoutes()
	s.handler = s.withRequest(s.mux)
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Routes lists every registered pattern ("GET /api/v1/me"), for the test
// that holds the OpenAPI document to the real surface.
func (s *Server) Routes() []string { return append([]string(nil), s.routes...) }

// handle registers one route; routes.go lists them all.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.routes = append(s.routes, pattern)
	s.mux.Handle(pattern, h)
}

func parsePages() (map[string]*template.Template, error) {
	// Partials (shared blocks such as the decision-record form) are
	// parsed with the layout so every page may use them.
	layout, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFiles, "templates/layout.html", "templates/partials/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", base, err)
		}
		pages[strings.TrimSuffix(base, ".html")] = t
	}
	return pages, nil
}
