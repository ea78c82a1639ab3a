package engine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"math/big"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Limits bound one operator query in the domain (R12.1, R17.1).
type Limits struct {
	// Timeout stops the query (default 30 s); the caller's context may stop
	// it earlier, for example when its agreement is suspended (R16.2).
	Timeout time.Duration
	// MaxRows is the most rows a result may have (default 10000): a query
	// returning more fails with ErrTooManyRows, so a result is never cut
	// silently.
	MaxRows int
}

func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = 30 * time.Second
	}
	if l.MaxRows <= 0 {
		l.MaxRows = 10000
	}
	return l
}

// RunnerOptions size the hardened DuckDB instance operator queries run in.
type RunnerOptions struct {
	MemoryLimit string // DuckDB memory_limit, default "1GB"
	Threads     int    // DuckDB threads, default 2
}

// Result is an operator query's answer, still inside the domain: the
// caller checks it before anything leaves.
type Result struct {
	Columns []string
	// Rows hold int64, float64, string, bool, time.Time or nil.
	Rows [][]any
}

// ErrTooManyRows is returned when a result passes Limits.MaxRows.
var ErrTooManyRows = errors.New("engine: the result has more rows than allowed")

// ErrTimeout is returned when a query ran out of Limits.Timeout.
var ErrTimeout = errors.New("engine: the query ran out of time")

// ErrBusy means a table the query needs is not readable yet: it was
// loaded after the query handle opened, and a load still writing to the
// domain keeps it from being checkpointed into the file the handle
// reads. Retrying once the load is done succeeds.
var ErrBusy = errors.New("engine: a load is writing to the domain; the tables the query needs are not readable yet")

// checkpointWait is how long a query waits for a running load to let the
// domain be checkpointed before it reads what the file already holds.
const checkpointWait = time.Second

// Runner runs checked operator queries in the domain. On DuckDB they run
// in a second, in-memory DuckDB instance that attaches the domain file read
// only and is hardened before any query: no file or network access, no
// extension installed or loaded, configuration locked, its own memory and
// thread limits. (DuckDB refuses a second handle on the same file with a
// different configuration in one process, and the loading handle needs
// file access, so the hardened handle attaches instead.) Domain tables are
// immutable versions, so the attached copy only has to be reopened when a
// query needs a table loaded after it was attached. On PostgreSQL each query
// runs in its own read-only transaction with statement_timeout, a
// search_path of the domain schema only and, when the server lets the
// platform create one, a role that may only read that schema.
type Runner struct {
	e   *Engine
	opt RunnerOptions

	mu      sync.Mutex
	replica *replica // DuckDB

	pgRole string // PostgreSQL: "" when no reader role could be made
}

// NewRunner prepares the hardened handle of e for operator queries.
func NewRunner(ctx context.Context, e *Engine, opt RunnerOptions) (*Runner, error) {
	if opt.MemoryLimit == "" {
		opt.MemoryLimit = "1GB"
	}
	if opt.Threads <= 0 {
		opt.Threads = 2
	}
	r := &Runner{e: e, opt: opt}
	if e.kind == Postgres {
		r.pgRole = r.setupReader(ctx)
		return r, nil
	}
	if _, err := r.current(ctx, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// Close releases the hardened handle.
func (r *Runner) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.replica != nil {
		r.replica.release()
		r.replica = nil
	}
	return nil
}

// Kind reports the engine behind the runner.
func (r *Runner) Kind() Kind { return r.e.kind }

// ReaderRole is the PostgreSQL role operator queries run as, or "" when the
// server did not let the platform create it (then the read-only transaction
// and search_path still apply, and the policy refuses catalogs).
func (r *Runner) ReaderRole() string { return r.pgRole }

// Run executes q, a statement the policy has checked and rewritten, that
// reads the domain tables named in tables, under lim. Cancelling ctx stops
// the query at once on both engines.
func (r *Runner) Run(ctx context.Context, q string, tables []string, lim Limits) (Result, error) {
	lim = lim.withDefaults()
	for _, t := range tables {
		if err := checkIdent(t); err != nil {
			return Result{}, err
		}
	}
	qctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	var res Result
	var err error
	if r.e.kind == Postgres {
		res, err = r.runPostgres(qctx, q, lim)
	} else {
		var rep *replica
		rep, err = r.current(qctx, tables)
		if err == nil {
			res, err = runSQL(qctx, rep.db, q, lim)
			rep.release()
		}
	}
	if err != nil && ctx.Err() == nil && errors.Is(qctx.Err(), context.DeadlineExceeded) {
		return Result{}, fmt.Errorf("%w (%s)", ErrTimeout, lim.Timeout)
	}
	if err != nil && ctx.Err() != nil {
		return Result{}, fmt.Errorf("run query: %w", context.Cause(ctx))
	}
	return res, err
}

// replica is one hardened DuckDB instance with the domain attached; users
// count the queries running on it, so a refresh closes it only after them.
type replica struct {
	db     *sql.DB
	tables map[string]bool
	mu     sync.Mutex
	users  int
	closed bool
}

func (rp *replica) release() {
	rp.mu.Lock()
	rp.users--
	last := rp.users < 0 || (rp.users == 0 && rp.closed)
	rp.mu.Unlock()
	if last {
		rp.db.Close()
	}
}

// current returns the replica, reopened when a needed table is missing,
// with one more user; the caller releases it.
func (r *Runner) current(ctx context.Context, need []string) (*replica, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fresh := r.replica != nil
	for _, t := range need {
		if fresh && !r.replica.tables[t] {
			fresh = false
		}
	}
	if !fresh {
		// A new table may still sit in the loader's write-ahead log, which
		// a read-only attach does not see.
		var ckErr error
		if r.replica != nil {
			ckErr = r.checkpoint(ctx)
		}
		rp, err := r.openReplica(ctx)
		if err != nil {
			return nil, err
		}
		if ckErr != nil {
			// DuckDB refuses to checkpoint while another load writes. The
			// tables may be in the file anyway (a table appears there
			// whole, by rename, and DuckDB checkpoints large loads
			// itself); if one is not, the query must wait for the load.
			for _, t := range need {
				if !rp.tables[t] {
					rp.db.Close()
					return nil, fmt.Errorf("%w: %s (%v)", ErrBusy, t, ckErr)
				}
			}
		}
		if old := r.replica; old != nil {
			old.mu.Lock()
			old.closed = true
			old.mu.Unlock()
			old.release()
		}
		rp.users = 1 // the runner's own reference
		r.replica = rp
	}
	rp := r.replica
	rp.mu.Lock()
	rp.users++
	rp.mu.Unlock()
	return rp, nil
}

// checkpoint writes the domain's write-ahead log into its file, retrying
// for a moment while another transaction writes.
func (r *Runner) checkpoint(ctx context.Context) error {
	deadline := time.Now().Add(checkpointWait)
	for {
		_, err := r.e.duck.ExecContext(ctx, "CHECKPOINT")
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("checkpoint domain: %w", err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *Runner) openReplica(ctx context.Context) (*replica, error) {
	path := filepath.Join(filepath.Dir(r.e.tmpDir), FileName)
	setup := []string{
		"ATTACH " + quoteLiteral(path) + " AS domain (READ_ONLY)",
		"USE domain",
		"SET threads = " + strconv.Itoa(r.opt.Threads),
		"SET memory_limit = " + quoteLiteral(r.opt.MemoryLimit),
		"SET enable_external_access = false",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET allow_community_extensions = false",
		"SET lock_configuration = true",
	}
	first := true
	var initMu sync.Mutex
	conn, err := duckdb.NewConnector("", func(ex driver.ExecerContext) error {
		initMu.Lock()
		defer initMu.Unlock()
		stmts := []string{"USE domain"}
		if first {
			stmts = setup
		}
		for _, s := range stmts {
			if _, err := ex.ExecContext(ctx, s, nil); err != nil {
				return fmt.Errorf("harden query handle: %s: %w", strings.SplitN(s, " ", 2)[0], err)
			}
		}
		first = false
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("run: open query handle: %w", err)
	}
	db := sql.OpenDB(conn)
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM duckdb_tables() WHERE database_name = 'domain'")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("run: open query handle: %w", err)
	}
	defer rows.Close()
	tables := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			db.Close()
			return nil, err
		}
		tables[n] = true
	}
	if err := rows.Err(); err != nil {
		db.Close()
		return nil, err
	}
	return &replica{db: db, tables: tables}, nil
}

// runSQL runs q on a database/sql handle and collects at most lim.MaxRows.
func runSQL(ctx context.Context, db *sql.DB, q string, lim Limits) (Result, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return Result{}, fmt.Errorf("run query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return Result{}, fmt.Errorf("run query: %w", err)
	}
	res := Result{Columns: cols}
	for rows.Next() {
		if len(res.Rows) >= lim.MaxRows {
			return Result{}, fmt.Errorf("%w (%d)", ErrTooManyRows, lim.MaxRows)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return Result{}, fmt.Errorf("run query: %w", err)
		}
		for i, v := range vals {
			vals[i] = Normalize(v)
		}
		res.Rows = append(res.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("run query: %w", err)
	}
	return res, nil
}

// pgxTxReadOnly is the transaction every operator query runs in: one
// snapshot, no writes.
var pgxTxReadOnly = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// readerRole names the PostgreSQL role that may only read the schema.
func (r *Runner) readerRole() string { return "gongshu_reader_" + r.e.schema }

// setupReader creates (or refreshes) the reader role; it returns "" when
// the connecting user may not create roles or grant on the schema.
func (r *Runner) setupReader(ctx context.Context) string {
	role := QuoteIdent(r.readerRole())
	schema := QuoteIdent(r.e.schema)
	tx, err := r.e.pg.Begin(ctx)
	if err != nil {
		return ""
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", r.readerRole()).Scan(&exists); err != nil {
		return ""
	}
	stmts := []string{
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
		// Versions loaded later are readable too: they are created by
		// this same user.
		"ALTER DEFAULT PRIVILEGES IN SCHEMA " + schema + " GRANT SELECT ON TABLES TO " + role,
		"GRANT " + role + " TO CURRENT_USER",
	}
	if !exists {
		stmts = append([]string{"CREATE ROLE " + role + " NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT"}, stmts...)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return ""
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return ""
	}
	return r.readerRole()
}

func (r *Runner) runPostgres(ctx context.Context, q string, lim Limits) (Result, error) {
	tx, err := r.e.pg.BeginTx(ctx, pgxTxReadOnly)
	if err != nil {
		return Result{}, fmt.Errorf("run query: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	setup := []string{
		fmt.Sprintf("SET LOCAL statement_timeout = %d", max(lim.Timeout.Milliseconds(), 1)),
		"SET LOCAL default_transaction_read_only = on",
		"SET LOCAL search_path = " + QuoteIdent(r.e.schema),
	}
	if r.pgRole != "" {
		setup = append(setup, "SET LOCAL ROLE "+QuoteIdent(r.pgRole))
	}
	for _, s := range setup {
		if _, err := tx.Exec(ctx, s); err != nil {
			return Result{}, fmt.Errorf("run query: %s: %w", s, err)
		}
	}
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return Result{}, fmt.Errorf("run query: %w", err)
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	res := Result{Columns: make([]string, len(fds))}
	for i, f := range fds {
		res.Columns[i] = f.Name
	}
	for rows.Next() {
		if len(res.Rows) >= lim.MaxRows {
			return Result{}, fmt.Errorf("%w (%d)", ErrTooManyRows, lim.MaxRows)
		}
		vals, err := rows.Values()
		if err != nil {
			return Result{}, fmt.Errorf("run query: %w", err)
		}
		for i, v := range vals {
			vals[i] = Normalize(v)
		}
		res.Rows = append(res.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("run query: %w", err)
	}
	return res, nil
}

// Normalize turns a driver value into int64, float64, string, bool,
// time.Time or nil, so that both engines give comparable results: sums are
// HUGEINT on DuckDB and NUMERIC on PostgreSQL, averages DOUBLE or NUMERIC.
func Normalize(v any) any {
	switch x := v.(type) {
	case nil, int64, float64, string, bool, time.Time:
		return x
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return strconv.FormatUint(x, 10)
	case float32:
		return float64(x)
	case []byte:
		return string(x)
	case *big.Int:
		if x.IsInt64() {
			return x.Int64()
		}
		return x.String()
	case duckdb.Decimal:
		if x.Scale == 0 && x.Value != nil && x.Value.IsInt64() {
			return x.Value.Int64()
		}
		return x.Float64()
	case pgtype.Numeric:
		if !x.Valid {
			return nil
		}
		if x.NaN || x.InfinityModifier != pgtype.Finite {
			f, _ := x.Float64Value()
			return f.Float64
		}
		if x.Exp >= 0 {
			n := new(big.Int).Mul(x.Int, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(x.Exp)), nil))
			if n.IsInt64() {
				return n.Int64()
			}
		}
		f, _ := x.Float64Value()
		return f.Float64
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}
