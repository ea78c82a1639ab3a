// Package engine owns the data plane (the domain, 数据域): the one place the
// public data itself lives. It opens DuckDB (a file in the data directory, the
// embedded default) or a PostgreSQL-wire engine (PostgreSQL, Citus,
// Greenplum; tables in schema "domain"), loads sources into immutable tables,
// infers schemas for a preview and profiles loaded tables.
//
// It never decides who may load or see what (supply and policy do), never
// writes the control plane and never lets data leave the domain: profiles
// give counts and, only for columns the caller allows, top values.
//
// This is the loading half. Query execution arrives in a later change, and
// before any operator query runs here it must lock the engine down
// (R12.2): on DuckDB set enable_external_access=false and
// autoinstall/autoload_known_extensions=false, then lock_configuration=true,
// so a query cannot read files, reach the network or undo the settings; run
// operator queries on separate read-only connections with memory and thread
// limits and a timeout; on PostgreSQL run them as a role that may only SELECT
// from the domain schema, with statement_timeout and default_transaction_read_only.
// Loading keeps external access because read_csv and read_parquet need it.
package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver
	"github.com/jackc/pgx/v5/pgxpool"
)

// Kind names the engine behind the domain.
type Kind string

const (
	DuckDB   Kind = "duckdb"
	Postgres Kind = "postgres"
)

// FileName is the DuckDB file kept in the data directory.
const FileName = "domain.duckdb"

// DefaultSchema is where a PostgreSQL-wire engine keeps the domain's tables.
const DefaultSchema = "domain"

// stagingPrefix marks tables being loaded; Open drops any left by a crash.
const stagingPrefix = "stg_"

// Engine is the data plane.
type Engine struct {
	kind Kind
	// duck is the DuckDB domain (kind DuckDB).
	duck *sql.DB
	// pg and schema are the PostgreSQL-wire domain (kind Postgres).
	pg     *pgxpool.Pool
	schema string
	// scratch is an in-memory DuckDB for sniffing and converting sources
	// (previews, Parquet for a PostgreSQL engine); it never holds domain
	// tables beyond one call.
	scratch *sql.DB
	// tmpDir holds transient files (spreadsheet and PostgreSQL sources
	// converted to CSV); it is inside the data directory, inside the domain.
	tmpDir string
}

// Open opens the domain: PostgreSQL when url starts with postgres:// or
// postgresql:// (an optional domain_schema query parameter overrides the
// "domain" schema, for tests), else the DuckDB file in dataDir. Staging
// tables left by an interrupted load are dropped.
func Open(ctx context.Context, dataDir string, dsn string) (*Engine, error) {
	if dataDir == "" {
		d, err := os.MkdirTemp("", "gongshu-domain-")
		if err != nil {
			return nil, fmt.Errorf("open domain: %w", err)
		}
		dataDir = d
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("open domain: create data directory: %w", err)
	}
	scratch, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("open domain scratch: %w", err)
	}
	e := &Engine{scratch: scratch, tmpDir: filepath.Join(dataDir, "tmp")}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			scratch.Close()
			return nil, fmt.Errorf("open domain: bad url: %w", err)
		}
		q := u.Query()
		e.schema = DefaultSchema
		if s := q.Get("domain_schema"); s != "" {
			e.schema = s
			q.Del("domain_schema")
			u.RawQuery = q.Encode()
		}
		if err := checkIdent(e.schema); err != nil {
			scratch.Close()
			return nil, err
		}
		pool, err := pgxpool.New(ctx, u.String())
		if err != nil {
			scratch.Close()
			return nil, fmt.Errorf("open domain postgres: %w", err)
		}
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+QuoteIdent(e.schema)); err != nil {
			pool.Close()
			scratch.Close()
			return nil, fmt.Errorf("open domain postgres: create schema: %w", err)
		}
		e.kind, e.pg = Postgres, pool
	} else {
		if dsn != "" {
			scratch.Close()
			return nil, fmt.Errorf("open domain: unsupported --domain %q: use postgres://… or leave it empty for DuckDB in the data directory", dsn)
		}
		db, err := sql.Open("duckdb", filepath.Join(dataDir, FileName))
		if err != nil {
			scratch.Close()
			return nil, fmt.Errorf("open domain duckdb: %w", err)
		}
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			scratch.Close()
			return nil, fmt.Errorf("open domain duckdb: %w", err)
		}
		e.kind, e.duck = DuckDB, db
	}
	if err := e.dropStaging(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Kind reports which engine this is.
func (e *Engine) Kind() Kind { return e.kind }

// Close releases the engine.
func (e *Engine) Close() error {
	var errs []error
	if e.duck != nil {
		errs = append(errs, e.duck.Close())
	}
	if e.pg != nil {
		e.pg.Close()
	}
	errs = append(errs, e.scratch.Close())
	return errors.Join(errs...)
}

// qualified is the quoted name of a domain table.
func (e *Engine) qualified(table string) string {
	if e.kind == Postgres {
		return QuoteIdent(e.schema) + "." + QuoteIdent(table)
	}
	return QuoteIdent(table)
}

// Tables lists the domain's tables (staging ones included), sorted.
func (e *Engine) Tables(ctx context.Context) ([]string, error) {
	var names []string
	if e.kind == Postgres {
		rows, err := e.pg.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", e.schema)
		if err != nil {
			return nil, fmt.Errorf("list domain tables: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return nil, err
			}
			names = append(names, n)
		}
		return names, rows.Err()
	}
	rows, err := e.duck.QueryContext(ctx, "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1")
	if err != nil {
		return nil, fmt.Errorf("list domain tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// Exists reports whether a domain table exists.
func (e *Engine) Exists(ctx context.Context, table string) (bool, error) {
	names, err := e.Tables(ctx)
	if err != nil {
		return false, err
	}
	for _, n := range names {
		if n == table {
			return true, nil
		}
	}
	return false, nil
}

// Drop removes a domain table if it exists. Supply uses it to undo a load
// whose control-plane record could not be committed.
func (e *Engine) Drop(ctx context.Context, table string) error {
	if err := checkIdent(table); err != nil {
		return err
	}
	if err := e.exec(ctx, "DROP TABLE IF EXISTS "+e.qualified(table)); err != nil {
		return fmt.Errorf("drop %s: %w", table, err)
	}
	return nil
}

func (e *Engine) exec(ctx context.Context, q string) error {
	if e.kind == Postgres {
		_, err := e.pg.Exec(ctx, q)
		return err
	}
	_, err := e.duck.ExecContext(ctx, q)
	return err
}

func (e *Engine) dropStaging(ctx context.Context) error {
	names, err := e.Tables(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasPrefix(n, stagingPrefix) {
			if err := e.Drop(ctx, n); err != nil {
				return err
			}
		}
	}
	return nil
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// checkIdent accepts only plain lower-case identifiers for domain tables
// and schemas, so names built by supply never need more than quoting.
func checkIdent(s string) error {
	if !identRE.MatchString(s) {
		return fmt.Errorf("engine: bad table or schema name %q", s)
	}
	return nil
}

// QuoteIdent quotes an identifier for both DuckDB and PostgreSQL.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteLiteral quotes a string literal for both DuckDB and PostgreSQL.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
