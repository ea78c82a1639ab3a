package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/quality"
	"github.com/gongshu/gongshu/internal/search"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/supply/domain"
)

// cmdBench measures parts of the platform, each against a baseline run in
// the same process on the same store.
func cmdBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "search" {
		return benchSearch(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "ingest" {
		return benchIngest(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "sandbox" {
		return benchSandbox(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "quality" {
		return benchQuality(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "audit" {
		fmt.Fprint(stderr, "Usage: gongshu bench audit [--entries N] [--appends N] [--db URL] [--audit-suite sm3|sha256]\n"+
			"       gongshu bench search [--resources N] [--db URL]\n       gongshu bench ingest [--bytes N] [--data DIR]\n"+
			"       gongshu bench quality [--rows N] [--data DIR]\n")
		return errors.New("bench: want audit, search, ingest or quality")
	}
	var c commonFlags
	var entries, appends, proofs, rounds int
	var withWitness bool
	fs := newFlagSet("bench audit", "bench audit [--entries N] [--appends N] [--rounds N] [--db URL] [--witness=false]", stderr)
	fs.BoolVar(&withWitness, "witness", true, "run a witness on loopback that cosigns each checkpoint during the appends (its traffic must stay off their path)")
	c.register(fs, "")
	fs.IntVar(&entries, "entries", 1_000_000, "log size for the integration and full-verification figures")
	fs.IntVar(&appends, "appends", 20_000, "entries written per append measurement")
	fs.IntVar(&proofs, "proofs", 1000, "inclusion proofs to time")
	fs.IntVar(&rounds, "rounds", 3, "repeats of each append measurement; the median is reported")
	if err := parse(fs, args[1:], getenv); err != nil {
		return err
	}
	suite, err := audit.ParseSuite(c.auditSuite)
	if err != nil {
		return err
	}
	dir := c.data
	if dir == "" {
		if dir, err = os.MkdirTemp("", "gongshu-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	db, err := store.Open(ctx, dir, c.db)
	if err != nil {
		return err
	}
	defer db.Close()
	if db.Dialect() == store.Postgres {
		fmt.Fprintln(stderr, "note: the benchmark writes into the audit log of the database named by --db; use a scratch database")
	}
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	log := audit.New(db, nil)
	tree, err := audit.OpenTree(ctx, db, log, audit.TreeConfig{Suite: suite, KeyDir: dir})
	if err != nil {
		return err
	}
	if withWitness {
		stop, err := benchWitness(ctx, tree, dir)
		if err != nil {
			return err
		}
		defer func() {
			for _, st := range tree.WitnessStatuses() {
				fmt.Fprintf(stdout, "  witness %s cosigned up to checkpoint %d during the run %s\n", st.Name, st.Cosigned, st.Error)
			}
			stop()
		}()
	}
	rep, err := audit.RunBench(ctx, db, log, tree, audit.BenchConfig{Appends: appends, Writers: []int{1, 16}, VerifyEntries: entries, Proofs: proofs, Rounds: rounds})
	if err != nil {
		return err
	}
	rep.Print(stdout)
	return nil
}

// benchWitness starts a witness on loopback for the bench's log and the
// platform's submissions to it; stop ends both.
func benchWitness(ctx context.Context, tree *audit.Tree, dir string) (stop func(), err error) {
	skey, vkey, err := audit.GenerateWitnessKey("bench.example/witness")
	if err != nil {
		return nil, err
	}
	signer, err := audit.ParseWitnessSigner(skey, nil)
	if err != nil {
		return nil, err
	}
	w, err := audit.OpenWitness(signer, []audit.WitnessedLog{{VerifierKey: tree.VerifierKey(), Suite: tree.Suite()}}, filepath.Join(dir, "bench-witness-state.json"))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- serveWitness(wctx, w, ln) }()
	if err := tree.AddWitnesses(ctx, []audit.WitnessEndpoint{{URL: "http://" + ln.Addr().String(), VerifierKey: vkey}}); err != nil {
		cancel()
		<-served
		return nil, err
	}
	submitted := make(chan struct{})
	go func() { tree.RunWitnesses(wctx, nil, time.Second); close(submitted) }()
	return func() { cancel(); <-submitted; <-served }, nil
}

// benchSearch seeds a scratch store with generated resources and times
// catalog queries against a LIKE scan of the same documents.
func benchSearch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonFlags
	var n int
	fs := newFlagSet("bench search", "bench search [--resources N] [--db URL]", stderr)
	c.register(fs, "")
	fs.IntVar(&n, "resources", 100_000, "registered resources to seed")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(c.data, "gongshu-bench-search-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, dir, c.db)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	return search.Bench(ctx, db, n, stdout)
}

// benchIngest times the full load path (load, profile, tag detection)
// against DuckDB's own read_csv of the same generated file.
func benchIngest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var size int64
	var data string
	fs := newFlagSet("bench ingest", "bench ingest [--bytes N] [--data DIR]", stderr)
	fs.Int64Var(&size, "bytes", 1_000_000_000, "size of the generated CSV file")
	fs.StringVar(&data, "data", "", "directory for the scratch file and database (default: a temporary one)")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(data, "gongshu-bench-ingest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	return domain.BenchIngest(ctx, dir, size, stdout)
}

// benchQuality times a resource's quality rules, fused, against one full
// scan of the same generated table on DuckDB.
func benchQuality(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var rows int
	var data string
	fs := newFlagSet("bench quality", "bench quality [--rows N] [--data DIR]", stderr)
	fs.IntVar(&rows, "rows", 10_000_000, "rows of the generated resource")
	fs.StringVar(&data, "data", "", "directory for the scratch database (default: a temporary one)")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(data, "gongshu-bench-quality-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	return quality.Bench(ctx, dir, rows, stdout)
}
