// Package app wires the platform together: it opens the control-plane
// store, runs the migrations, builds the services and the HTTP server, and
// serves until its context ends. cmd/gongshu and the end-to-end tests start
// the platform through it, so both run exactly the same wiring.
package app

import (
	"context"
	"errors"
	"fmt"
	"github.com/gongshu/gongshu/internal/governance"
	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/quality"
	"github.com/gongshu/gongshu/internal/sandbox"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/i18n"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/registry"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/supply"
	"github.com/gongshu/gongshu/internal/supply/domain"
	"github.com/gongshu/gongshu/internal/web"
	"github.com/gongshu/gongshu/internal/workday"
)

// Config is what starting the platform takes.
type Config struct {
	DataDir         string
	DBURL           string
	Version         string
	Logger          *slog.Logger
	Now             func() time.Time
	InsecureCookies bool
	Identity        identity.Options
	// AuditSuite and AuditKey choose the hash suite and checkpoint
	// signature of a new audit log (defaults SM3 and SM2); an existing log
	// keeps its own.
	AuditSuite audit.Suite
	AuditKey   audit.KeyType
	// AuditKeyFile is the checkpoint signing key's file; default in
	// DataDir. In production it lives apart from the data directory, so
	// that whoever can rewrite the store cannot also re-sign it.
	AuditKeyFile string
	// DomainURL names a PostgreSQL-wire data plane; empty: DuckDB in DataDir.
	DomainURL string
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// TrustedProxies are the addresses whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// AuditAlarmRate raises an alarm when the audit log grows by more
	// entries a minute than this (0: no alarm).
	AuditAlarmRate int
	// Witnesses are the witnesses each new checkpoint is submitted to.
	Witnesses []audit.WitnessEndpoint
}

// App is a running platform's parts.
type App struct {
	DB       *store.DB
	Audit    *audit.Log
	Tree     *audit.Tree
	Identity *identity.Service
	Registry *registry.Service
	Engine   *engine.Engine
	Supply   *supply.Service
	// Quality checks loaded data against each resource's rules; nil
	// without a domain.
	Quality    *quality.Service
	Governance *governance.Service
	Grant      *grant.Service
	Sandbox    *sandbox.Service
	runner     *engine.Runner
	mock       *engine.Mock
	Regions    *region.Table
	Catalog    *i18n.Catalog
	Web        *web.Server
	// Check is the verification of the audit log made at start.
	Check  audit.CheckResult
	logger *slog.Logger
	index  *registry.SearchIndex
	// auditAlarmRate: see Config.AuditAlarmRate.
	auditAlarmRate int
}

// Open opens the store, migrates it and builds every service.
func Open(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	db, err := store.Open(ctx, cfg.DataDir, cfg.DBURL)
	if err != nil {
		return nil, err
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if len(applied) > 0 {
		cfg.Logger.Info("migrated control-plane store", "store", db.String(), "applied", applied)
	}
	cat, err := i18n.Load()
	if err != nil {
		db.Close()
		return nil, err
	}
	regions := region.Default()
	log := audit.New(db, cfg.Now)
	tree, err := audit.OpenTree(ctx, db, log, audit.TreeConfig{Suite: cfg.AuditSuite, KeyType: cfg.AuditKey, KeyDir: cfg.DataDir,
		KeyFile: cfg.AuditKeyFile, Logger: cfg.Logger})
	if err != nil {
		db.Close()
		return nil, err
	}
	// Catch up with entries committed before a crash, then verify the
	// whole log against its last signed checkpoint, and the store against
	// the checkpoint kept outside it, before serving. A store behind or
	// forked from the kept checkpoint is refused: the check records it
	// and returns a *audit.RollbackError.
	if _, err := tree.Integrate(ctx); err != nil && !errors.As(err, new(*audit.RollbackError)) {
		db.Close()
		return nil, err
	}
	res, err := tree.Check(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := tree.AddWitnesses(ctx, cfg.Witnesses); err != nil {
		// A sealed log does not record the registration of a new
		// witness: it starts without it, so the alarm can be acknowledged.
		if !apperr.IsCode(err, apperr.Unavailable) {
			db.Close()
			return nil, err
		}
		cfg.Logger.Error("audit: a new witness is not registered while writes are refused", "err", err)
	}
	if a := res.Alarm; a != nil && a.AckedAt.IsZero() {
		cfg.Logger.Error("AUDIT LOG INTEGRITY FAILURE: writes are refused until an administrator acknowledges",
			"findings", res.Total, "problem", a.Problem, "entry", a.EntryID, "leaf", a.LeafIndex, "alarm", a.ID)
	} else {
		cfg.Logger.Info("audit log verified", "entries", res.Entries, "checkpoint", res.Size, "took", res.Duration, "suite", tree.Suite())
	}
	ids := identity.NewService(db, log, regions, cfg.Now, cfg.Identity)
	index := registry.NewSearchIndex(db)
	reg := registry.New(db, log, ids, regions, workday.Default(), cfg.Now, index)
	// The data domain lives in the data directory or on --domain; a
	// control-plane-only run (migrate --db …) has neither and no supply.
	var eng *engine.Engine
	var sup *supply.Service
	if cfg.DataDir != "" || cfg.DomainURL != "" {
		if eng, err = engine.Open(ctx, cfg.DataDir, cfg.DomainURL); err != nil {
			db.Close()
			return nil, fmt.Errorf("open the data domain: %w", err)
		}
		sup = supply.NewService(db, log, domain.Adapt(eng), registryResources{reg}, regions, cfg.Now)
	}
	gov := governance.New(db, log, governanceResources{reg}, regions, workday.Default(), cfg.Now, governance.Options{})
	// The scope check consults the negative list and consents (R5.2,
	// R5.3); a stopped agreement ends the operator's sessions and tokens.
	gr := grant.New(db, log, regions, workday.Default(), cfg.Now, grantResources{reg}, gov, orgRevoker{ids}, nil, grant.Options{})
	var qual *quality.Service
	if eng != nil {
		qual = quality.NewService(db, log, qualityDomain{eng}, qualityResources{reg, sup}, regions, cfg.Now)
		// A load is checked against the resource's rules in the background:
		// a large table takes seconds, and the loader need not wait.
		sup.AfterLoad(func(ctx context.Context, p identity.Principal, v supply.Version) {
			go runQuality(context.WithoutCancel(ctx), qual, cfg.Logger, p, v.ResourceID,
				quality.Target{Table: v.Table, Version: v.Version, LoadedAt: v.LoadedAt}, quality.TriggerLoad)
		})
	}
	var sbx *sandbox.Service
	var runner *engine.Runner
	var mock *engine.Mock
	if eng != nil {
		if sbx, runner, mock, err = openSandbox(ctx, cfg, db, log, gr, grantResources{reg}, sup, eng); err != nil {
			eng.Close()
			db.Close()
			return nil, err
		}
	}
	loginKey, err := sharedSecret(ctx, db, "login_csrf")
	if err != nil {
		if eng != nil {
			eng.Close()
		}
		db.Close()
		return nil, err
	}
	srv, err := web.New(web.Config{
		Identity: ids, Registry: reg, Supply: sup, Quality: qual, Governance: gov, Grant: gr, Sandbox: sbx, UploadDir: uploadDir(cfg.DataDir), Search: index, Audit: log, Tree: tree, Catalog: cat, Regions: regions, DB: db, Logger: cfg.Logger,
		Now: cfg.Now, Version: cfg.Version, InsecureCookies: cfg.InsecureCookies,
		MetricsToken: cfg.MetricsToken, TrustedProxies: cfg.TrustedProxies, LoginKey: loginKey,
	})
	if err != nil {
		if eng != nil {
			eng.Close()
		}
		db.Close()
		return nil, err
	}
	return &App{DB: db, Engine: eng, Supply: sup, Audit: log, Tree: tree, Identity: ids, Registry: reg, Regions: regions, Catalog: cat, Web: srv, Check: res, logger: cfg.Logger, index: index,
		Quality: qual, Governance: gov, Grant: gr, Sandbox: sbx, runner: runner, mock: mock, auditAlarmRate: cfg.AuditAlarmRate}, nil
}

// Close releases the store.
func (a *App) Close() error {
	var errs []error
	// Operators' query handles close before the domain they read.
	if a.runner != nil {
		errs = append(errs, a.runner.Close())
	}
	if a.mock != nil {
		errs = append(errs, a.mock.Close())
	}
	if a.Engine != nil {
		errs = append(errs, a.Engine.Close())
	}
	return errors.Join(append(errs, a.DB.Close())...)
}

// Listen binds addr; separate from Serve so a caller learns the real port
// (":0" in tests) before serving.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (is another server using the port? choose one with --addr)", addr, err)
	}
	return ln, nil
}

// Serve answers HTTP on ln until ctx ends, then shuts down gracefully.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           a.Web,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	// The catalog search answers from memory; load it now rather than on
	// the first visitor's query (a large catalog takes seconds).
	go func() {
		t0 := time.Now()
		if err := a.index.Warm(ctx); err != nil {
			a.logger.Warn("catalog search: load", "err", err)
			return
		}
		a.logger.Info("catalog search loaded", "took", time.Since(t0).Round(time.Millisecond))
	}()
	// Periodic duties: due quality runs, overdue objections.
	go func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			a.sweep(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	// Summaries of folded anonymous refusals; the audit-growth alarm.
	go a.watch(ctx, a.Web.FoldInterval())
	ictx, stopIntegrator := context.WithCancel(context.Background())
	integrated := make(chan struct{})
	go func() { a.Tree.Run(ictx, 200*time.Millisecond); close(integrated) }()
	// Witnesses cosign each new checkpoint, off the path of the appends.
	witnessed := make(chan struct{})
	go func() { a.Tree.RunWitnesses(ictx, nil, 0); close(witnessed) }()
	defer func() {
		stopIntegrator()
		<-integrated
		<-witnessed
		// Sign what the last requests wrote before the process ends.
		if _, err := a.Tree.Integrate(context.Background()); err != nil {
			a.logger.Error("audit: final integration", "err", err)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// The refusals folded since the last summary are recorded before the
	// process ends.
	if err := a.Web.FlushRefusals(context.Background(), true); err != nil {
		a.logger.Error("audit: folded refusals at shutdown", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// URL is how a person reaches a listener from the same machine.
func URL(ln net.Listener) string {
	addr := ln.Addr().(*net.TCPAddr)
	host := "localhost"
	if !addr.IP.IsUnspecified() && !addr.IP.IsLoopback() {
		host = addr.IP.String()
	}
	return fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(addr.Port)))
}

// uploadDir is where uploads wait to be loaded: beside the domain in the
// data directory, or the system's temporary directory for a process whose
// domain is remote.
func uploadDir(dataDir string) string {
	if dataDir == "" {
		return filepath.Join(os.TempDir(), "gongshu-uploads")
	}
	return filepath.Join(dataDir, "uploads")
}
