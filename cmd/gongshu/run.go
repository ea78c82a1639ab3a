package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/app"
	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/demo"
	"github.com/gongshu/gongshu/internal/i18n"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/web"
	"github.com/gongshu/gongshu/internal/workday"
)

// version is set at build time with -ldflags "-X main.version=…"; a plain
// build reports the module version or "dev".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

const usage = `gongshu — platform for the authorized operation of public data (公共数据资源授权运营)

Usage:
  gongshu serve   --data DIR [--db URL] [--addr :8080] [--witness URL=KEY]…  run the platform
  gongshu demo    [--data DIR] [--addr :8080]            run it with a seeded Jiangxi demo
  gongshu migrate --data DIR [--db URL]                  apply database migrations
  gongshu version                                        print the version
  gongshu user create --login L --name N --org ID --role R [--password P]
  gongshu user passwd --login L [--password P]
  gongshu token create --user L [--name N] [--days D]
  gongshu ingest --data DIR --resource ID --token T FILE  load a CSV, XLSX or Parquet file as a resource's next version
  gongshu audit check --data DIR                         verify the whole audit log now (beside a running server too)
  gongshu audit export --data DIR [--org ID] [--from D] [--to D] [--since CP] [-o FILE]
  gongshu audit verify BUNDLE|--url URL --key PUB [--witness KEY]… [--quorum N] [--since CP]
                                                         check a bundle or a platform, trusting only keys
  gongshu audit keygen --name N -o FILE                  a witness's or cosigner's key pair (prints the public key)
  gongshu audit cosign CHECKPOINT --key LOG --signer FILE [--url URL]  countersign after checking consistency
  gongshu witness --key FILE --log KEY… [--addr :7380]   run a witness (C2SP tlog-witness) for logs
  gongshu bench audit [--entries N] [--db URL]           measure the audit log against bare inserts
  gongshu workday add DATE N | between DATE DATE         deadlines on the official working-day calendar

Every flag can also be set as GONGSHU_<NAME> (--data is GONGSHU_DATA, --db is
GONGSHU_DB, --addr is GONGSHU_ADDR …); a flag on the command line wins.
Run "gongshu COMMAND --help" for a command's flags.
`

// run is the whole program; main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, getenv, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "gongshu %s (%s %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	case "user":
		return cmdUser(ctx, rest, getenv, stdout, stderr)
	case "token":
		return cmdToken(ctx, rest, getenv, stdout, stderr)
	case "audit":
		return cmdAudit(ctx, rest, getenv, stdout, stderr)
	case "ingest":
		return cmdIngest(ctx, rest, getenv, stdout, stderr)
	case "bench":
		return cmdBench(ctx, rest, getenv, stdout, stderr)
	case "workday":
		return cmdWorkday(rest, getenv, stdout, stderr)
	case "witness":
		return cmdWitness(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// commonFlags are the flags every command that opens the store takes.
type commonFlags struct {
	data, db, domain, logFormat, logLevel string
	auditSuite, auditKey, auditKeyFile    string
	// insecureCookies and the rest are set by the commands that serve
	// pages (serve, demo).
	insecureCookies bool
	metricsToken    string
	trustedProxies  string
	auditAlarmRate  int
	// witnesses are set by the commands that serve (serve, demo).
	witnesses stringList
}

// registerWitnesses adds --witness to a command that serves.
func (c *commonFlags) registerWitnesses(fs *flag.FlagSet) {
	fs.Var(&c.witnesses, "witness", "a witness to submit each checkpoint to, as URL=KEY (repeatable; comma-separated in GONGSHU_WITNESS)")
}

// registerCookies adds the flags of a command that serves pages:
// --insecure-cookies, --metrics-token, --trusted-proxies, --audit-alarm-rate.
func (c *commonFlags) registerCookies(fs *flag.FlagSet) {
	fs.BoolVar(&c.insecureCookies, "insecure-cookies", false, "send cookies without Secure (plain HTTP behind a name other than localhost)")
	fs.StringVar(&c.metricsToken, "metrics-token", "", "bearer token /metrics requires (default: /metrics is open)")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client (default: none, the header is ignored)")
	fs.IntVar(&c.auditAlarmRate, "audit-alarm-rate", 10000, "log an alarm when the audit log grows by more entries a minute (0: never)")
}

// proxies parses --trusted-proxies.
func (c *commonFlags) proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(c.trustedProxies, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("--trusted-proxies: %q is not an address or CIDR", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is not an address or CIDR", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: gongshu %s\n\nFlags (each also read from GONGSHU_<NAME>):\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func (c *commonFlags) register(fs *flag.FlagSet, defaultData string) {
	fs.StringVar(&c.data, "data", defaultData, "data directory (SQLite store, keys, demo credentials)")
	fs.StringVar(&c.db, "db", "", "control-plane database: postgres://… (default: SQLite in the data directory)")
	fs.StringVar(&c.domain, "domain", "", "data plane: a PostgreSQL-wire engine postgres://… (default: DuckDB in the data directory)")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.auditSuite, "audit-suite", "sm3", "hash suite of a new audit log: sm3 or sha256 (an existing log keeps its own)")
	fs.StringVar(&c.auditKey, "audit-key", "sm2", "checkpoint signature of a new audit log: sm2 or ed25519")
	fs.StringVar(&c.auditKeyFile, "audit-key-file", "", "the checkpoint signing key's file (default: in the data directory; in production keep it apart, mode 0600)")
}

// parse applies GONGSHU_<NAME> variables first and the command line second,
// so an explicit flag always wins.
func parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var bad []string
	fs.VisitAll(func(f *flag.Flag) {
		env := "GONGSHU_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				bad = append(bad, fmt.Sprintf("%s=%q: %v", env, v, err))
			}
		}
	})
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("bad environment: %s", strings.Join(bad, "; "))
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// parseFiles is parse for commands that take file arguments after their
// flags; it returns them.
func parseFiles(fs *flag.FlagSet, args []string, getenv func(string) string) ([]string, error) {
	// Flags end at the first argument that is not one; parse them alone.
	i := len(args)
	for j := 0; j < len(args); j++ {
		if !strings.HasPrefix(args[j], "-") && (j == 0 || !takesValue(fs, args[j-1])) {
			i = j
			break
		}
	}
	if err := parse(fs, args[:i], getenv); err != nil {
		return nil, err
	}
	return args[i:], nil
}

// takesValue reports whether arg is a flag that reads the next argument.
func takesValue(fs *flag.FlagSet, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !(ok && b.IsBoolFlag())
}

func (c *commonFlags) logger(stderr io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", c.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", c.logFormat)
}

func (c *commonFlags) open(ctx context.Context, stderr io.Writer) (*app.App, error) {
	if c.data == "" && c.db == "" {
		return nil, errors.New("no data directory: pass --data DIR (or set GONGSHU_DATA)")
	}
	logger, err := c.logger(stderr)
	if err != nil {
		return nil, err
	}
	suite, err := audit.ParseSuite(c.auditSuite)
	if err != nil {
		return nil, fmt.Errorf("--audit-suite: %w", err)
	}
	key, err := audit.ParseKeyType(c.auditKey)
	if err != nil {
		return nil, fmt.Errorf("--audit-key: %w", err)
	}
	proxies, err := c.proxies()
	if err != nil {
		return nil, err
	}
	var ws []audit.WitnessEndpoint
	for _, w := range c.witnesses {
		ep, err := audit.ParseWitnessEndpoint(w)
		if err != nil {
			return nil, err
		}
		ws = append(ws, ep)
	}
	return app.Open(ctx, app.Config{DataDir: c.data, DBURL: c.db, DomainURL: c.domain, Version: buildVersion(), Logger: logger,
		AuditSuite: suite, AuditKey: key, AuditKeyFile: c.auditKeyFile, InsecureCookies: c.insecureCookies,
		MetricsToken: c.metricsToken, TrustedProxies: proxies, AuditAlarmRate: c.auditAlarmRate, Witnesses: ws})
}

// cmdMigrate applies pending migrations to the control-plane store alone
// (not the data domain, which a running server holds locked).
func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("migrate", "migrate --data DIR [--db URL]", stderr)
	c.register(fs, "")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	if _, err := audit.ParseSuite(c.auditSuite); err != nil {
		return fmt.Errorf("--audit-suite: %w", err)
	}
	if _, err := c.logger(stderr); err != nil {
		return err
	}
	if c.data == "" && c.db == "" {
		return errors.New("no data directory: pass --data DIR (or set GONGSHU_DATA)")
	}
	db, err := store.Open(ctx, c.data, c.db)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	v, err := db.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "store %s is at schema version %d (%d migrations applied now)\n", db, v, len(applied))
	return nil
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonFlags
	var addr string
	fs := newFlagSet("serve", "serve --data DIR [--db URL] [--addr :8080] [--insecure-cookies] [--metrics-token T] [--trusted-proxies CIDR,…]", stderr)
	c.register(fs, "")
	c.registerCookies(fs)
	c.registerWitnesses(fs)
	fs.StringVar(&addr, "addr", ":8080", "address to listen on")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	a, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	return serve(ctx, a, addr, stdout, nil)
}

// serve listens, tells the person where, and serves until ctx ends.
func serve(ctx context.Context, a *app.App, addr string, stdout io.Writer, ready func(url string) error) error {
	ln, err := app.Listen(addr)
	if err != nil {
		return err
	}
	url := app.URL(ln)
	if ready != nil {
		if err := ready(url); err != nil {
			ln.Close()
			return err
		}
	}
	fmt.Fprintf(stdout, "gongshu %s serving at %s (store: %s)\n", buildVersion(), url, a.DB)
	return a.Serve(ctx, ln)
}

func cmdDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonFlags
	var addr string
	var scale float64
	var seed uint64
	fs := newFlagSet("demo", "demo [--data DIR] [--addr :8080] [--scale 1] [--insecure-cookies]", stderr)
	c.register(fs, "gongshu-demo")
	c.registerCookies(fs)
	c.registerWitnesses(fs)
	fs.StringVar(&addr, "addr", ":8080", "address to listen on")
	fs.Float64Var(&scale, "scale", 1, "size of the synthetic data loaded in the background (1: a million enterprises, two million insured persons; 0 loads none)")
	fs.Uint64Var(&seed, "seed", 2026, "seed of the synthetic data (the same seed gives the same data)")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	start := time.Now()
	a, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	seeded, err := demo.Seeded(ctx, a.Identity)
	if err != nil {
		return err
	}
	var creds demo.Credentials
	// The background load ends with the command's context; the domain
	// closes only after it has.
	var loadDone <-chan struct{}
	lctx, cancelLoad := context.WithCancel(ctx)
	defer func() {
		cancelLoad()
		if loadDone != nil {
			<-loadDone
		}
	}()
	if !seeded {
		if creds, err = demo.Seed(ctx, a.Identity); err != nil {
			return err
		}
		resources, err := demo.SeedRegistry(ctx, a.DB, a.Audit, a.Identity, a.Regions, workday.Default(), creds, time.Now())
		if err != nil {
			return err
		}
		agreement, err := demo.SeedGrant(ctx, a.Grant, a.Governance, a.Identity, creds, resources, time.Now())
		if err != nil {
			return err
		}
		if a.Sandbox != nil {
			if err := demo.SeedWorkspace(ctx, a.Sandbox, a.Identity, creds, agreement); err != nil {
				return err
			}
		}
		if scale > 0 && a.Supply != nil {
			// Serving starts at once; the datasets load behind it.
			var loader *demo.Loader
			loader, loadDone = demo.StartLoad(lctx, a.Supply, a.Identity, creds, resources, c.data, scale, seed, func(format string, args ...any) {
				fmt.Fprintf(stdout, format+"\n", args...)
			})
			a.Web.ShowLoading(func() []web.LoadLine {
				var out []web.LoadLine
				for _, st := range loader.Status() {
					out = append(out, web.LoadLine{Title: st.Title, State: st.State, Rows: st.Rows, Total: st.Total})
				}
				return out
			})
		}
	} else if creds, err = demo.Read(c.data); err != nil {
		return fmt.Errorf("%s already holds a platform but no readable %s (%v): use a fresh --data directory", c.data, demo.CredentialsFile, err)
	}
	return serve(ctx, a, addr, stdout, func(url string) error {
		creds.URL = url
		if err := demo.Write(c.data, creds); err != nil {
			return err
		}
		printAccounts(stdout, creds, c.data, time.Since(start))
		return nil
	})
}

func printAccounts(w io.Writer, creds demo.Credentials, dir string, took time.Duration) {
	fmt.Fprintf(w, "\n公数 gongshu demo — Jiangxi public data authorized operation platform (ready in %s)\n", took.Round(time.Millisecond))
	fmt.Fprintf(w, "  console and portal: %s\n  API:                %s/api/v1 (OpenAPI: %s/api/v1/openapi.json)\n\n", creds.URL, creds.URL, creds.URL)
	fmt.Fprintf(w, "  %-16s %-20s %-14s %s\n", "LOGIN", "PASSWORD", "ROLE", "ORGANISATION")
	for _, a := range creds.Accounts {
		fmt.Fprintf(w, "  %-16s %-20s %-14s %s\n", a.Login, a.Password, a.Role, a.Organization)
	}
	fmt.Fprintf(w, "\n  Passwords and API tokens are in %s/%s. Press Ctrl-C to stop.\n\n", dir, demo.CredentialsFile)
}

// password reads a new password from --password, GONGSHU_PASSWORD (through
// parse) or, failing both, one line of standard input, so it need not
// appear in the process list.
func readPassword(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password: pass --password, set GONGSHU_PASSWORD or write it on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// describe renders a service error for the terminal in English.
func describe(a *app.App, err error) error {
	if e, ok := apperr.As(err); ok && e.Code != apperr.Internal {
		return errors.New(a.Catalog.T(i18n.EN, e.Key, e.Args))
	}
	return err
}

func cmdUser(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "passwd") {
		fmt.Fprint(stderr, "Usage: gongshu user create|passwd [flags]  (see gongshu user create --help)\n")
		return errors.New("user: want create or passwd")
	}
	sub := args[0]
	var c commonFlags
	var login, name, rolesFlag, pw string
	var org int64
	fs := newFlagSet("user "+sub, "user "+sub+" --login L …", stderr)
	c.register(fs, "")
	fs.StringVar(&login, "login", "", "the account's login")
	fs.StringVar(&pw, "password", "", "the password (else read from standard input)")
	if sub == "create" {
		fs.StringVar(&name, "name", "", "the person's name")
		fs.Int64Var(&org, "org", 0, "organisation ID")
		fs.StringVar(&rolesFlag, "role", "", "role(s), comma-separated: "+joinRoles())
	}
	if err := parse(fs, args[1:], getenv); err != nil {
		return err
	}
	if login == "" {
		return errors.New("--login is required")
	}
	a, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if pw, err = readPassword(pw); err != nil {
		return err
	}
	if sub == "passwd" {
		if err := a.Identity.SetPasswordAsSystem(ctx, login, pw); err != nil {
			return describe(a, err)
		}
		fmt.Fprintf(stdout, "password of %s changed; its sessions were ended\n", login)
		return nil
	}
	var rs []identity.Role
	for _, r := range strings.Split(rolesFlag, ",") {
		if r = strings.TrimSpace(r); r != "" {
			rs = append(rs, identity.Role(r))
		}
	}
	u, err := a.Identity.CreateUserAsSystem(ctx, identity.UserInput{Login: login, Name: name, OrgID: org, Roles: rs, Password: pw})
	if err != nil {
		return describe(a, err)
	}
	fmt.Fprintf(stdout, "created user %s (id %d) in organisation %d with roles %v\n", u.Login, u.ID, u.OrgID, u.Roles)
	return nil
}

func joinRoles() string {
	var s []string
	for _, r := range identity.Roles {
		s = append(s, string(r))
	}
	return strings.Join(s, ", ")
}

func cmdToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprint(stderr, "Usage: gongshu token create --user L [--name N] [--days D]\n")
		return errors.New("token: want create")
	}
	var c commonFlags
	var user, name string
	var days int
	fs := newFlagSet("token create", "token create --user L [--name N] [--days D]", stderr)
	c.register(fs, "")
	fs.StringVar(&user, "user", "", "login of the user the token acts as")
	fs.StringVar(&name, "name", "cli", "what the token is for")
	fs.IntVar(&days, "days", 90, "days until it expires (at most 366)")
	if err := parse(fs, args[1:], getenv); err != nil {
		return err
	}
	if user == "" {
		return errors.New("--user is required")
	}
	a, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	t, secret, err := a.Identity.CreateTokenAsSystem(ctx, user, name, time.Duration(days)*24*time.Hour)
	if err != nil {
		return describe(a, err)
	}
	fmt.Fprintf(stderr, "token %d for %s expires %s; it is shown only now:\n", t.ID, user, t.ExpiresAt.Format(time.RFC3339))
	fmt.Fprintln(stdout, secret)
	return nil
}
