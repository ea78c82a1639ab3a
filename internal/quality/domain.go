package quality

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Dialect names the data-plane engine a rule set compiles for; the values
// are internal/engine's Kind values.
type Dialect string

const (
	DuckDB   Dialect = "duckdb"
	Postgres Dialect = "postgres"
)

// Column is a domain table's column with the engine's type name.
type Column struct {
	Name string
	Type string
}

// Domain is the part of the data plane quality runs on: the platform's own
// read-only checks, never an operator's query. internal/engine provides it
// through a small adapter (docs/quality-rules.md, "Wiring").
type Domain interface {
	Dialect() Dialect
	// Table returns the quoted, schema-qualified name of a domain table.
	Table(name string) string
	// Columns lists a table's columns in order.
	Columns(ctx context.Context, table string) ([]Column, error)
	// Query runs one read-only statement and calls each for every row;
	// an error from each stops the query and is returned.
	Query(ctx context.Context, q string, each func(scan func(...any) error) error) error
}

// SQLDomain is a DuckDB domain reached through database/sql (the duckdb
// driver), with tables in the main schema. The benchmark and tests use it;
// the platform goes through internal/engine.
type SQLDomain struct{ DB *sql.DB }

func (d SQLDomain) Dialect() Dialect         { return DuckDB }
func (d SQLDomain) Table(name string) string { return quoteIdent(name) }

func (d SQLDomain) Columns(ctx context.Context, table string) ([]Column, error) {
	var cols []Column
	err := d.Query(ctx, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' AND table_name = "+
		quoteLiteral(table)+" ORDER BY ordinal_position", func(scan func(...any) error) error {
		var c Column
		if err := scan(&c.Name, &c.Type); err != nil {
			return err
		}
		cols = append(cols, c)
		return nil
	})
	return cols, err
}

func (d SQLDomain) Query(ctx context.Context, q string, each func(scan func(...any) error) error) error {
	rows, err := d.DB.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PGDomain is a PostgreSQL-wire domain with tables in Schema.
type PGDomain struct {
	Pool   *pgxpool.Pool
	Schema string
}

func (d PGDomain) Dialect() Dialect { return Postgres }
func (d PGDomain) Table(name string) string {
	return quoteIdent(d.Schema) + "." + quoteIdent(name)
}

func (d PGDomain) Columns(ctx context.Context, table string) ([]Column, error) {
	var cols []Column
	err := d.Query(ctx, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "+
		quoteLiteral(d.Schema)+" AND table_name = "+quoteLiteral(table)+" ORDER BY ordinal_position",
		func(scan func(...any) error) error {
			var c Column
			if err := scan(&c.Name, &c.Type); err != nil {
				return err
			}
			cols = append(cols, c)
			return nil
		})
	return cols, err
}

func (d PGDomain) Query(ctx context.Context, q string, each func(scan func(...any) error) error) error {
	rows, err := d.Pool.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// quoteIdent quotes an identifier for both DuckDB and PostgreSQL.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteLiteral quotes a string literal for both engines (standard
// conforming strings: a backslash is an ordinary character in both).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// class is how a rule treats a column's type.
type class int

const (
	classOther class = iota
	classText
	classNumber
	classDate
	classTimestamp
)

// classify maps DuckDB and PostgreSQL type names to a class.
func classify(t string) class {
	u := strings.ToUpper(t)
	switch {
	case u == "VARCHAR" || u == "TEXT" || strings.HasPrefix(u, "CHARACTER") || strings.HasPrefix(u, "VARCHAR") ||
		u == "BPCHAR" || strings.HasPrefix(u, "CHAR"):
		return classText
	case u == "DATE":
		return classDate
	case strings.HasPrefix(u, "TIMESTAMP"):
		return classTimestamp
	}
	for _, p := range []string{"TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER",
		"USMALLINT", "UTINYINT", "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC"} {
		if strings.HasPrefix(u, p) {
			return classNumber
		}
	}
	return classOther
}

func columnMap(cols []Column) map[string]Column {
	m := make(map[string]Column, len(cols))
	for _, c := range cols {
		m[c.Name] = c
	}
	return m
}

// errUnknownTable is wrapped when a table has no columns (it does not exist).
func errUnknownTable(table string) error {
	return fmt.Errorf("quality: table %s not found in the domain", table)
}
