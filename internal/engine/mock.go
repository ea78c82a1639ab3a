package engine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/duckdb/duckdb-go/v2"
)

// Mock is a scratch DuckDB in memory holding only generated mock tables
// (same schema and formats as a resource, no real value), where operators'
// mock queries run unrestricted by column policies but hardened like the
// domain's query handle: no file or network access, no extensions, locked
// configuration. It never attaches the domain.
type Mock struct {
	db     *sql.DB
	mu     sync.Mutex
	tables map[string]bool
}

// OpenMock opens an empty mock database.
func OpenMock(ctx context.Context, opt RunnerOptions) (*Mock, error) {
	if opt.MemoryLimit == "" {
		opt.MemoryLimit = "256MB"
	}
	if opt.Threads <= 0 {
		opt.Threads = 1
	}
	setup := []string{
		"SET threads = " + strconv.Itoa(opt.Threads),
		"SET memory_limit = " + quoteLiteral(opt.MemoryLimit),
		"SET enable_external_access = false",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET lock_configuration = true",
	}
	var once sync.Once
	conn, err := duckdb.NewConnector("", func(ex driver.ExecerContext) error {
		var err error
		once.Do(func() {
			for _, s := range setup {
				if _, e := ex.ExecContext(ctx, s, nil); e != nil {
					err = fmt.Errorf("harden mock database: %w", e)
					return
				}
			}
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open mock database: %w", err)
	}
	db := sql.OpenDB(conn)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open mock database: %w", err)
	}
	return &Mock{db: db, tables: map[string]bool{}}, nil
}

// Close releases the mock database.
func (m *Mock) Close() error { return m.db.Close() }

// Has reports whether the mock table exists.
func (m *Mock) Has(table string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tables[table]
}

// Create makes a mock table with the given columns and rows (values as
// text, or nil), unless it exists.
func (m *Mock) Create(ctx context.Context, table string, cols []Column, rows [][]any) error {
	if err := checkIdent(table); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tables[table] {
		return nil
	}
	defs := make([]string, len(cols))
	marks := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = QuoteIdent(c.Name) + " " + mockType(c.Type)
		marks[i] = "?"
	}
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create mock %s: %w", table, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "CREATE TABLE "+QuoteIdent(table)+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return fmt.Errorf("create mock %s: %w", table, err)
	}
	ins, err := tx.PrepareContext(ctx, "INSERT INTO "+QuoteIdent(table)+" VALUES ("+strings.Join(marks, ", ")+")")
	if err != nil {
		return fmt.Errorf("create mock %s: %w", table, err)
	}
	defer ins.Close()
	for _, r := range rows {
		if _, err := ins.ExecContext(ctx, r...); err != nil {
			return fmt.Errorf("create mock %s: %w", table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create mock %s: %w", table, err)
	}
	m.tables[table] = true
	return nil
}

// mockType maps a loaded column's type (DuckDB's, or PostgreSQL's on a
// PostgreSQL domain) to a DuckDB type; what it does not know is text.
func mockType(t string) string {
	u := strings.ToUpper(strings.TrimSpace(t))
	switch {
	case strings.Contains(u, "INT"):
		return "BIGINT"
	case strings.HasPrefix(u, "DOUBLE"), strings.HasPrefix(u, "FLOAT"), u == "REAL", strings.HasPrefix(u, "DECIMAL"), strings.HasPrefix(u, "NUMERIC"):
		return "DOUBLE"
	case u == "DATE":
		return "DATE"
	case strings.HasPrefix(u, "TIMESTAMP"):
		return "TIMESTAMP"
	case strings.HasPrefix(u, "BOOL"):
		return "BOOLEAN"
	}
	return "VARCHAR"
}

// Run executes a mock query. The caller has checked it is one SELECT.
func (m *Mock) Run(ctx context.Context, q string, lim Limits) (Result, error) {
	lim = lim.withDefaults()
	qctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	return runSQL(qctx, m.db, q, lim)
}
