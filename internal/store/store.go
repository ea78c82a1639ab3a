// Package store owns the control-plane database: opening SQLite (the embedded
// default) or PostgreSQL, the one set of migrations both share, and the
// transaction helper every service uses so that a state change and its audit
// entry commit together. It knows nothing of the domain; services keep their
// own queries. Queries are written with '?' placeholders and rebound for
// PostgreSQL here, so a service's SQL is the same text on both stores.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names the SQL engine behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the control-plane database with its dialect.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	// where is a description safe to log (no password).
	where string
	// writers serializes SQLite write transactions in the process. SQLite
	// admits one writer at a time anyway; queueing here instead of in its
	// busy handler (which sleeps and retries) keeps many writers fast.
	writers sync.Mutex
}

// FileName is the SQLite file kept in the data directory.
const FileName = "gongshu.db"

// Open connects to PostgreSQL when url starts with postgres:// or
// postgresql://, and otherwise opens (creating if needed) the SQLite file in
// dataDir. It does not run migrations; call Migrate.
func Open(ctx context.Context, dataDir, url string) (*DB, error) {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return openPostgres(ctx, url)
	}
	if url != "" && !strings.HasPrefix(url, "sqlite:") {
		return nil, fmt.Errorf("open store: unsupported --db %q: use postgres://… or leave it empty for SQLite in the data directory", redact(url))
	}
	path := strings.TrimPrefix(url, "sqlite:")
	if path == "" {
		if dataDir == "" {
			return nil, errors.New("open store: no data directory: pass --data DIR")
		}
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("open store: create data directory: %w", err)
		}
		path = filepath.Join(dataDir, FileName)
	}
	return OpenSQLite(ctx, path)
}

// OpenSQLite opens the SQLite database at path (":memory:" is not supported:
// each pooled connection would see its own database).
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	// Immediate transactions take the write lock at BEGIN, so two writers
	// queue on busy_timeout instead of one failing at its first write.
	// synchronous=FULL: a commit returns only once it is on disk, which the
	// audit log promises; group commit (audit.Log.Record) keeps that cheap.
	dsn := "file:" + path + "?_txlock=immediate&_time_format=sqlite" +
		"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{sql: db, dialect: SQLite, where: "sqlite:" + path}, nil
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redact(url), err)
	}
	db.SetMaxOpenConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redact(url), err)
	}
	return &DB{sql: db, dialect: Postgres, where: redact(url)}, nil
}

// redact hides the password of a URL for logs and errors.
func redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return url
	}
	creds := url[scheme+3 : at]
	if i := strings.Index(creds, ":"); i >= 0 {
		return url[:scheme+3] + creds[:i] + ":***" + url[at:]
	}
	return url
}

// Dialect reports which engine this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// String describes the database without secrets.
func (db *DB) String() string { return db.where }

// Close closes the pool.
func (db *DB) Close() error { return db.sql.Close() }

// Ping checks the database answers (for /healthz).
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// Exec runs a statement outside a transaction.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.sql.ExecContext(ctx, rebind(db.dialect, query), args...)
}

// Query runs a query outside a transaction.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.sql.QueryContext(ctx, rebind(db.dialect, query), args...)
}

// QueryRow runs a query expected to return at most one row.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.sql.QueryRowContext(ctx, rebind(db.dialect, query), args...)
}

// Tx is a transaction with the same rebinding as DB.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
}

// Dialect reports which engine this is.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// Stmt is a statement prepared once and reused by many transactions: each
// pooled connection parses it once, instead of once per use. Worth it only
// for statements on a hot path.
type Stmt struct{ s *sql.Stmt }

// Prepare prepares query for use with Tx.ExecStmt.
func (db *DB) Prepare(ctx context.Context, query string) (*Stmt, error) {
	s, err := db.sql.PrepareContext(ctx, rebind(db.dialect, query))
	if err != nil {
		return nil, err
	}
	return &Stmt{s: s}, nil
}

// Close releases the statement on every connection.
func (s *Stmt) Close() error { return s.s.Close() }

// ExecStmt runs a prepared statement in the transaction.
func (tx *Tx) ExecStmt(ctx context.Context, st *Stmt, args ...any) (sql.Result, error) {
	return tx.tx.StmtContext(ctx, st.s).ExecContext(ctx, args...)
}

// Exec runs a statement in the transaction.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, rebind(tx.dialect, query), args...)
}

// Query runs a query in the transaction.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, rebind(tx.dialect, query), args...)
}

// QueryRow runs a query in the transaction expected to return at most one row.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, rebind(tx.dialect, query), args...)
}

// InsertID runs an INSERT … RETURNING id and returns the new id; both
// engines support RETURNING, which LastInsertId on pgx does not.
func (tx *Tx) InsertID(ctx context.Context, query string, args ...any) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, query+" RETURNING id", args...).Scan(&id)
	return id, err
}

// InTx runs fn in a transaction, committing when fn returns nil and rolling
// back otherwise (also when fn panics).
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	if db.dialect == SQLite {
		db.writers.Lock()
		defer db.writers.Unlock()
	}
	stx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return runTx(&Tx{tx: stx, dialect: db.dialect}, fn)
}

// runTx runs fn in the begun tx and commits, or rolls back when fn fails
// or panics.
func runTx(tx *Tx, fn func(tx *Tx) error) error {
	defer func() {
		if p := recover(); p != nil {
			_ = tx.tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = tx.tx.Rollback()
		return err
	}
	if err := tx.tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// ExecAlone runs a prepared statement as a transaction of its own: on
// SQLite an autocommit statement, queued with the other writers. A write
// that is one statement is thereby spared InTx's BEGIN and COMMIT, which
// on SQLite are two more statements run under the write lock.
func (db *DB) ExecAlone(ctx context.Context, st *Stmt, args ...any) (sql.Result, error) {
	if db.dialect == SQLite {
		db.writers.Lock()
		defer db.writers.Unlock()
	}
	return st.s.ExecContext(ctx, args...)
}

// InTxLazy is InTx for derived data the caller rebuilds after a crash. On
// SQLite its commit does not wait for the disk (synchronous=NORMAL for that
// one transaction), so it holds the write lock for less time: the next
// durable commit flushes its pages with its own, and a crash before that
// loses this commit and nothing else, since a WAL is only ever cut short at
// its end. On PostgreSQL it is InTx.
func (db *DB) InTxLazy(ctx context.Context, fn func(tx *Tx) error) (err error) {
	if db.dialect != SQLite {
		return db.InTx(ctx, fn)
	}
	// Lock before taking a connection, as InTx does, so the two cannot
	// deadlock over the pool.
	db.writers.Lock()
	defer db.writers.Unlock()
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	// SQLite refuses to change the setting inside a transaction, so it is
	// set on the connection around one.
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous=NORMAL"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous=FULL"); rerr != nil {
			// A connection left lazy must never serve a durable commit:
			// the pool drops a connection that reports itself bad.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, fmt.Errorf("restore synchronous=FULL: %w", rerr))
		}
	}()
	stx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return runTx(&Tx{tx: stx, dialect: db.dialect}, fn)
}

// ReadTx runs fn in a read-only transaction whose statements all see one
// snapshot of the database (PostgreSQL REPEATABLE READ; on SQLite a
// deferred transaction, which in WAL mode reads one snapshot and does not
// take the write lock). Use it when several reads must agree.
func (db *DB) ReadTx(ctx context.Context, fn func(tx *Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	stx, err := db.sql.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer stx.Rollback()
	return fn(&Tx{tx: stx, dialect: db.dialect})
}

// rebind turns '?' placeholders into $1, $2, … for PostgreSQL, leaving
// question marks inside string literals and quoted identifiers alone.
func rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// IsUniqueViolation reports whether err is a unique-constraint failure on
// either engine, so services can turn it into a conflict for the user.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || // SQLite
		strings.Contains(s, "SQLSTATE 23505") // PostgreSQL unique_violation
}
