package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/store"
)

// cmdAudit runs the audit log's commands.
func cmdAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return cmdAuditCheck(ctx, args[1:], getenv, stdout, stderr)
		case "export":
			return cmdAuditExport(ctx, args[1:], getenv, stdout, stderr)
		case "verify":
			return cmdAuditVerify(ctx, args[1:], getenv, stdout, stderr)
		case "keygen":
			return cmdAuditKeygen(args[1:], getenv, stdout, stderr)
		case "cosign":
			return cmdAuditCosign(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	fmt.Fprint(stderr, "Usage: gongshu audit check|export|verify|keygen|cosign [flags]  (see gongshu audit export --help)\n")
	return errors.New("audit: want check, export, verify, keygen or cosign")
}

// stringList is a repeatable flag; a value may also list several, separated
// by commas (as GONGSHU_<NAME> does).
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*s = append(*s, x)
		}
	}
	return nil
}

// auditLog is an existing platform's audit log, opened alone.
type auditLog struct {
	db   *store.DB
	tree *audit.Tree
}

func (l *auditLog) Close() error { return l.db.Close() }

// openLog opens the control-plane store of an existing platform and its
// audit log, and nothing else: not the data domain, which a running server
// holds locked, so the audit commands work beside it. A --data or --db
// that holds no platform is an error, never a new empty log. Without the
// signing key (--db with no --data) the log is opened to verify only.
func (c *commonFlags) openLog(ctx context.Context, stderr io.Writer) (*auditLog, error) {
	if c.data == "" && c.db == "" {
		return nil, errors.New("no data directory: pass --data DIR (or set GONGSHU_DATA)")
	}
	if c.db == "" {
		if _, err := os.Stat(filepath.Join(c.data, store.FileName)); err != nil {
			return nil, fmt.Errorf("%s does not hold a platform (no %s there): check --data", c.data, store.FileName)
		}
	}
	logger, err := c.logger(stderr)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, c.data, c.db)
	if err != nil {
		return nil, err
	}
	if v, err := db.Version(ctx); err != nil || v == 0 {
		db.Close()
		return nil, fmt.Errorf("%s holds no platform (no schema): check --data and --db", db)
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	cfg := audit.TreeConfig{MustExist: true, Logger: logger, KeyFile: c.auditKeyFile}
	if c.data != "" {
		cfg.CheckpointFile = filepath.Join(c.data, audit.CheckpointFile)
		if _, err := os.Stat(filepath.Join(c.data, audit.KeyFile)); err == nil {
			cfg.KeyDir = c.data
		}
	}
	tree, err := audit.OpenTree(ctx, db, audit.New(db, nil), cfg)
	if err != nil {
		db.Close()
		if errors.Is(err, audit.ErrNoLog) {
			return nil, fmt.Errorf("%s holds no audit log: check --data and --db", db)
		}
		return nil, err
	}
	return &auditLog{db: db, tree: tree}, nil
}

// cmdAuditCheck integrates pending entries and verifies the whole log (as
// every start does), printing every finding (the first ones and a count);
// it fails on an unacknowledged alarm and on a rollback.
func cmdAuditCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("audit check", "audit check --data DIR [--db URL]", stderr)
	c.register(fs, "")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	l, err := c.openLog(ctx, stderr)
	if err != nil {
		return err
	}
	defer l.Close()
	if _, err := l.tree.Integrate(ctx); err != nil && !errors.Is(err, audit.ErrNoSigner) && !errors.As(err, new(*audit.RollbackError)) {
		return err
	}
	res, cerr := l.tree.Check(ctx)
	fmt.Fprintf(stdout, "audit log %s (%s): %d entries verified against checkpoint %d in %s\n",
		l.tree.Origin(), l.tree.Suite(), res.Entries, res.Size, res.Duration.Round(time.Millisecond))
	printFindings(stdout, res)
	if cerr != nil {
		return cerr
	}
	if al := res.Alarm; al != nil {
		fmt.Fprintf(stdout, "INTEGRITY ALARM %d: %d findings, detected %s\n", al.ID, al.Total, al.DetectedAt.Format(time.RFC3339))
		if al.AckedAt.IsZero() {
			return fmt.Errorf("audit log integrity alarm %d is not acknowledged: writes are refused", al.ID)
		}
		fmt.Fprintf(stdout, "  acknowledged by %s at %s: %s\n", al.AckedBy, al.AckedAt.Format(time.RFC3339), al.Acknowledge)
	}
	if k := l.tree.Kept(); k != nil {
		fmt.Fprintf(stdout, "kept checkpoint: size %d, root %x\n", k.Size, k.Root)
	}
	fmt.Fprintf(stdout, "public key: %s\n", l.tree.VerifierKey())
	return nil
}

// shownOnTerminal bounds the findings a command prints.
const shownOnTerminal = 20

// printFindings lists the first findings of a check and counts the rest.
func printFindings(w io.Writer, res audit.CheckResult) {
	if res.Total == 0 {
		return
	}
	fmt.Fprintf(w, "%d findings:\n", res.Total)
	for i, f := range res.Findings {
		if i == shownOnTerminal {
			break
		}
		fmt.Fprintf(w, "  %s\n", f)
	}
	if shown := min(len(res.Findings), shownOnTerminal); res.Total > int64(shown) {
		fmt.Fprintf(w, "  … and %d more\n", res.Total-int64(shown))
	}
}

func cmdAuditExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonFlags
	var org int64
	var from, to, out, since string
	fs := newFlagSet("audit export", "audit export --data DIR [--org ID] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--since CHECKPOINT|SIZE] [-o FILE]", stderr)
	c.register(fs, "")
	fs.Int64Var(&org, "org", 0, "only the entries of this organisation's actions")
	fs.StringVar(&from, "from", "", "first day (Asia/Shanghai), inclusive")
	fs.StringVar(&to, "to", "", "last day (Asia/Shanghai), inclusive")
	fs.StringVar(&since, "since", "", "add a consistency proof from this tree size, or from the checkpoint in this file")
	fs.StringVar(&out, "o", "", "write the bundle to FILE (default: standard output)")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	var f audit.ExportFilter
	f.OrgID = org
	cst := time.FixedZone("CST", 8*3600)
	for _, d := range []struct {
		flag, v string
		dst     *time.Time
		add     int
	}{{"--from", from, &f.From, 0}, {"--to", to, &f.To, 1}} {
		if d.v == "" {
			continue
		}
		t, err := time.ParseInLocation("2006-01-02", d.v, cst)
		if err != nil {
			return fmt.Errorf("%s %q: use YYYY-MM-DD", d.flag, d.v)
		}
		*d.dst = t.AddDate(0, 0, d.add)
	}
	l, err := c.openLog(ctx, stderr)
	if err != nil {
		return err
	}
	defer l.Close()
	if since != "" {
		if n, err := strconv.ParseUint(since, 10, 64); err == nil {
			f.Since = n
		} else {
			kept, err := readCheckpointFile(since, l.tree.VerifierKey())
			if err != nil {
				return err
			}
			f.Since = kept.Size
		}
	}
	w := stdout
	if out != "" {
		file, err := os.Create(out)
		if err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	n, err := l.tree.Export(ctx, w, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d entries with their proofs; verify with: gongshu audit verify BUNDLE --key '%s'\n", n, l.tree.VerifierKey())
	return nil
}

// readCheckpointFile reads a checkpoint kept in a file (a signed note, or
// the JSON of GET /api/v1/audit/checkpoint) and opens it with the log's key.
func readCheckpointFile(path, vkey string) (audit.Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return audit.Checkpoint{}, err
	}
	var j struct{ Note string }
	if json.Unmarshal(b, &j) == nil && j.Note != "" {
		b = []byte(j.Note)
	}
	v, err := audit.NewVerifier(vkey)
	if err != nil {
		return audit.Checkpoint{}, err
	}
	cp, err := audit.ParseCheckpoint(b, v)
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("kept checkpoint %s: %w (is it this log's, signed with --key?)", path, err)
	}
	return cp, nil
}

// readKey takes a key given inline or as @FILE.
func readKey(key string) (string, error) {
	if !strings.HasPrefix(key, "@") {
		return key, nil
	}
	b, err := os.ReadFile(key[1:])
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// cmdAuditVerify checks a bundle offline, or a running platform's latest
// checkpoint (--url), trusting only the keys given: the log's, and the
// witnesses' with their quorum; with --since, that the log extends a
// checkpoint the verifier kept.
func cmdAuditVerify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var key, since, platform string
	var witnesses stringList
	var quorum int
	var maxAge time.Duration
	fs := newFlagSet("audit verify", "audit verify BUNDLE|--url URL --key PUB [--witness KEY]… [--quorum N] [--since CHECKPOINT]", stderr)
	fs.StringVar(&key, "key", "", "the log's public key (name+hash+base64), or @FILE holding it")
	fs.Var(&witnesses, "witness", "a witness's public key (repeatable): the checkpoint must carry its cosignature")
	fs.IntVar(&quorum, "quorum", 0, "how many of the --witness keys must have cosigned (default: all)")
	fs.DurationVar(&maxAge, "max-age", 0, "count only cosignatures made within this time (e.g. 1h): a rolled-back log has only old ones")
	fs.StringVar(&since, "since", "", "a checkpoint kept earlier (file): the log must extend it, or the rollback or fork is named")
	fs.StringVar(&platform, "url", "", "verify a running platform's latest checkpoint instead of a bundle")
	// The bundle path may come before or after the flags.
	var path string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		path, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if path == "" && fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	if key == "" {
		key = getenv("GONGSHU_KEY")
	}
	if (path == "") == (platform == "") || key == "" {
		return errors.New("usage: gongshu audit verify BUNDLE|--url URL --key PUB (the key as published at /api/v1/audit/key)")
	}
	key, err := readKey(key)
	if err != nil {
		return err
	}
	opts := audit.VerifyOptions{Quorum: quorum, MaxAge: maxAge}
	for _, w := range witnesses {
		if w, err = readKey(w); err != nil {
			return err
		}
		opts.Witnesses = append(opts.Witnesses, w)
	}
	if since != "" {
		kept, err := readCheckpointFile(since, key)
		if err != nil {
			return err
		}
		opts.Since = &kept
	}
	if platform != "" {
		return verifyOnline(ctx, platform, key, opts, stdout)
	}
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	rep, err := audit.VerifyBundle(in, key, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "OK: %d entries verified against checkpoint %d of %s (root %x)\n", rep.Verified, rep.Size, rep.Origin, rep.Root)
	describeReport(stdout, rep.Complete, rep.Filter, rep.Since, rep.Size, rep.Witnesses)
	return nil
}

// describeReport says what a verification proved, and what it did not.
func describeReport(w io.Writer, complete bool, f *audit.BundleFilter, since, size uint64, ws []audit.WitnessCosignature) {
	switch {
	case complete:
		fmt.Fprintf(w, "  the bundle holds every entry of the tree of size %d\n", size)
	case f != nil:
		fmt.Fprintf(w, "  filtered (organisation %d, from %q, to %q): it proves these entries are in the log, not that no other entry matches\n", f.OrgID, f.From, f.To)
	}
	if since > 0 {
		fmt.Fprintf(w, "  consistent with the kept checkpoint of size %d: nothing before it was changed, removed or reordered\n", since)
	}
	for _, c := range ws {
		fmt.Fprintf(w, "  cosigned by witness %s at %s\n", c.Name, c.At.Format(time.RFC3339))
	}
}

// verifyOnline checks a running platform's latest checkpoint.
func verifyOnline(ctx context.Context, base, key string, opts audit.VerifyOptions, stdout io.Writer) error {
	v, err := audit.NewVerifier(key)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var info struct {
		Suite string `json:"suite"`
	}
	if err := getJSON(ctx, client, base+"/api/v1/audit/key", &info); err != nil {
		return err
	}
	suite, err := audit.ParseSuite(info.Suite)
	if err != nil {
		return err
	}
	var latest struct {
		Note string `json:"note"`
	}
	if err := getJSON(ctx, client, base+"/api/v1/audit/checkpoint", &latest); err != nil {
		return err
	}
	cp, err := audit.OpenCheckpoint([]byte(latest.Note), v, opts)
	if err != nil {
		return err
	}
	var since uint64
	if k := opts.Since; k != nil {
		var p struct {
			Proof [][]byte `json:"proof"`
		}
		if k.Size > 0 && k.Size < cp.Size {
			q := url.Values{"from": {strconv.FormatUint(k.Size, 10)}, "to": {strconv.FormatUint(cp.Size, 10)}}
			if err := getJSON(ctx, client, base+"/api/v1/audit/proof/consistency?"+q.Encode(), &p); err != nil {
				return err
			}
		}
		if err := audit.VerifyConsistency(suite.Hasher(), *k, cp.Checkpoint, p.Proof); err != nil {
			return err
		}
		since = k.Size
	}
	fmt.Fprintf(stdout, "OK: checkpoint %d of %s (root %x) verified\n", cp.Size, cp.Origin, cp.Root)
	describeReport(stdout, false, nil, since, cp.Size, cp.Witnesses)
	return nil
}

func getJSON(ctx context.Context, client *http.Client, u string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.NewDecoder(resp.Body).Decode(dst)
}

// cmdAuditKeygen makes a key pair for a cosigner or a witness, writing the
// private key to a 0600 file and printing the public key.
func cmdAuditKeygen(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var name, typ, out string
	fs := newFlagSet("audit keygen", "audit keygen --name N [--type witness|ed25519|sm2] -o FILE", stderr)
	fs.StringVar(&name, "name", "", "the key's name, e.g. jxsjj.gov.cn/witness (no spaces or +)")
	fs.StringVar(&typ, "type", "witness", "witness (C2SP cosignature/v1, Ed25519), ed25519 or sm2")
	fs.StringVar(&out, "o", "", "file for the private key (created with mode 0600)")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	if name == "" || out == "" || strings.ContainsAny(name, " +") {
		return errors.New("--name (without spaces or +) and -o FILE are required")
	}
	if typ == "witness" {
		vkey, err := loadOrCreateWitnessKey(out, name)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, vkey)
		return nil
	}
	kt, err := audit.ParseKeyType(typ)
	if err != nil {
		return err
	}
	_, vkey, err := audit.LoadOrCreateKeyFile(out, name, kt)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, vkey)
	return nil
}

// cmdAuditCosign is a witness run by hand: it countersigns a checkpoint
// only after verifying it with the log's key and proving it consistent
// with the last checkpoint this cosigner signed (kept in --state), and
// prints the checkpoint with the added signature, ready to submit.
func cmdAuditCosign(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var signer, key, state, proofFile, platform, suiteName string
	fs := newFlagSet("audit cosign", "audit cosign CHECKPOINT --key LOGKEY --signer KEYFILE --state FILE [--url URL | --proof FILE]", stderr)
	fs.StringVar(&signer, "signer", "", "the cosigner's private key file (from audit keygen)")
	fs.StringVar(&key, "key", "", "the log's public key, or @FILE holding it")
	fs.StringVar(&state, "state", "", "file keeping the last checkpoint cosigned (default: KEYFILE.state)")
	fs.StringVar(&platform, "url", "", "the platform, to fetch the consistency proof from the last checkpoint cosigned")
	fs.StringVar(&proofFile, "proof", "", "the consistency proof, as GET /api/v1/audit/proof/consistency returns it")
	fs.StringVar(&suiteName, "suite", "sm3", "the log's hash suite: sm3 or sha256")
	var path string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		path, args = args[0], args[1:]
	}
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	if path == "" || signer == "" || key == "" {
		return errors.New("usage: gongshu audit cosign CHECKPOINT --key LOGKEY --signer KEYFILE: the checkpoint is verified with the log's key first")
	}
	if state == "" {
		state = signer + ".state"
	}
	key, err := readKey(key)
	if err != nil {
		return err
	}
	suite, err := audit.ParseSuite(suiteName)
	if err != nil {
		return err
	}
	signed, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	skey, err := os.ReadFile(signer)
	if err != nil {
		return err
	}
	ns, err := noteSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return err
	}
	w, err := audit.OpenWitness(ns, []audit.WitnessedLog{{VerifierKey: key, Suite: suite}}, state)
	if err != nil {
		return err
	}
	v, err := audit.NewVerifier(key)
	if err != nil {
		return err
	}
	cp, err := audit.ParseCheckpoint(signed, v)
	if err != nil {
		return fmt.Errorf("refused: %w (is it this log's checkpoint, and --key its key?)", err)
	}
	_, old := w.Latest(v.Name())
	var consistency [][]byte
	if old > 0 && old < cp.Size {
		var p struct {
			Proof [][]byte `json:"proof"`
		}
		switch {
		case proofFile != "":
			b, err := os.ReadFile(proofFile)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(b, &p); err != nil {
				return fmt.Errorf("--proof %s: %w", proofFile, err)
			}
		case platform != "":
			q := url.Values{"from": {strconv.FormatUint(old, 10)}, "to": {strconv.FormatUint(cp.Size, 10)}}
			if err := getJSON(ctx, &http.Client{Timeout: 30 * time.Second}, platform+"/api/v1/audit/proof/consistency?"+q.Encode(), &p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("refused: the last checkpoint cosigned has size %d: give the consistency proof to %d with --url or --proof", old, cp.Size)
		}
		consistency = p.Proof
	}
	lines, err := w.AddCheckpoint(old, consistency, signed)
	if err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	fmt.Fprintf(stdout, "%s%s", strings.TrimRight(string(signed), "\n")+"\n", lines)
	return nil
}

// noteSigner reads a private key of any kind this tool makes.
func noteSigner(skey string) (note.Signer, error) {
	if ws, err := audit.ParseWitnessSigner(skey, nil); err == nil {
		return ws, nil
	}
	s, _, err := audit.ParseSigner(skey)
	return s, err
}
