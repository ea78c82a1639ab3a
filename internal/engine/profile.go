package engine

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
)

// Infer reads the first sampleRows rows of src without loading it and
// returns the schema the engine would give it and those rows as text, for
// the preview the holding department confirms before loading.
func (e *Engine) Infer(ctx context.Context, src Source, sampleRows int) (Schema, [][]string, error) {
	if err := src.validate(); err != nil {
		return Schema{}, nil, err
	}
	if sampleRows <= 0 {
		sampleRows = 20
	}
	path, format, types, delim := src.Path, src.Format, src.Types, src.Delimiter
	switch src.Format {
	case XLSX:
		p, err := e.xlsxToCSV(ctx, src, 20480)
		if err != nil {
			return Schema{}, nil, err
		}
		defer os.Remove(p)
		path, format, delim = p, CSV, ","
	case PGTable:
		p, cols, _, _, err := e.pgSourceToCSV(ctx, src, 20480, nil)
		if err != nil {
			return Schema{}, nil, err
		}
		defer os.Remove(p)
		path, format, delim = p, CSV, ","
		types = make(map[string]string, len(cols))
		for _, c := range cols {
			types[c.Name] = duckTypeOfPG(c.Type)
		}
	}
	reader := readerSQL(format, path, types, delim)
	cols, err := e.describe(ctx, reader)
	if err != nil {
		return Schema{}, nil, fmt.Errorf("infer %s: %w", src.Name(), err)
	}
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = "CAST(" + QuoteIdent(c.Name) + " AS VARCHAR)"
	}
	rows, err := e.scratch.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s LIMIT %d", strings.Join(sel, ", "), reader, sampleRows))
	if err != nil {
		return Schema{}, nil, fmt.Errorf("infer %s: %w", src.Name(), err)
	}
	defer rows.Close()
	preview, err := scanText(rows, len(cols))
	if err != nil {
		return Schema{}, nil, fmt.Errorf("infer %s: %w", src.Name(), err)
	}
	return Schema{Columns: cols}, preview, nil
}

func scanText(rows sqlRows, width int) ([][]string, error) {
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, width)
		ptrs := make([]any, width)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, width)
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// ValueCount is one frequent value of a column.
type ValueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// ColumnProfile summarizes one column of a loaded table.
type ColumnProfile struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Rows  int64  `json:"rows"`
	Nulls int64  `json:"nulls"`
	// Distinct is an estimate on DuckDB (HyperLogLog), exact on PostgreSQL.
	Distinct int64 `json:"distinct"`
	// Min and Max are set for numbers and dates only.
	Min string `json:"min,omitempty"`
	Max string `json:"max,omitempty"`
	// Top holds the most frequent values, only for columns the caller did
	// not list in skipValues and whose values recur.
	Top []ValueCount `json:"top,omitempty"`
}

// TopValues is how many frequent values a profile keeps per column.
const TopValues = 5

func orderedType(t string) bool {
	u := strings.ToUpper(t)
	for _, p := range []string{"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER",
		"DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC", "DATE", "TIMESTAMP"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// Profile summarizes each column of a domain table: type, nulls, distinct
// estimate, min and max for numbers and dates, and top values except for
// the columns in skipValues (identifiers and sensitive columns get counts,
// never values) and columns where nearly every value is unique.
func (e *Engine) Profile(ctx context.Context, table string, skipValues map[string]bool) ([]ColumnProfile, error) {
	schema, err := e.TableSchema(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", table, err)
	}
	distinct, text := "approx_count_distinct", "VARCHAR"
	if e.kind == Postgres {
		distinct, text = "count(DISTINCT %s)", "TEXT"
	}
	exprs := []string{"count(*)"}
	for _, c := range schema.Columns {
		q := QuoteIdent(c.Name)
		d := distinct + "(" + q + ")"
		if e.kind == Postgres {
			d = fmt.Sprintf(distinct, q)
		}
		exprs = append(exprs, "count(*) - count("+q+")", d)
		if orderedType(c.Type) {
			exprs = append(exprs, "CAST(min("+q+") AS "+text+")", "CAST(max("+q+") AS "+text+")")
		}
	}
	query := "SELECT " + strings.Join(exprs, ", ") + " FROM " + e.qualified(table)
	vals := make([]sql.NullString, len(exprs))
	ptrs := make([]any, len(exprs))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := e.queryRow(ctx, query, ptrs...); err != nil {
		return nil, fmt.Errorf("profile %s: %w", table, err)
	}
	num := func(s sql.NullString) int64 {
		var n int64
		fmt.Sscan(s.String, &n)
		return n
	}
	rows := num(vals[0])
	out := make([]ColumnProfile, len(schema.Columns))
	i := 1
	for k, c := range schema.Columns {
		p := ColumnProfile{Name: c.Name, Type: c.Type, Rows: rows, Nulls: num(vals[i]), Distinct: num(vals[i+1])}
		i += 2
		if orderedType(c.Type) {
			p.Min, p.Max = vals[i].String, vals[i+1].String
			i += 2
		}
		if !skipValues[c.Name] && p.Distinct*10 < rows*9 {
			top, err := e.top(ctx, table, c.Name, text)
			if err != nil {
				return nil, fmt.Errorf("profile %s.%s: %w", table, c.Name, err)
			}
			p.Top = top
		}
		out[k] = p
	}
	return out, nil
}

func (e *Engine) top(ctx context.Context, table, column, text string) ([]ValueCount, error) {
	q := QuoteIdent(column)
	query := fmt.Sprintf("SELECT CAST(%s AS %s), count(*) FROM %s WHERE %s IS NOT NULL GROUP BY 1 HAVING count(*) > 1 ORDER BY 2 DESC, 1 LIMIT %d",
		q, text, e.qualified(table), q, TopValues)
	var out []ValueCount
	err := e.query(ctx, query, func(scan func(...any) error) error {
		var v ValueCount
		if err := scan(&v.Value, &v.Count); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// Sample returns up to n rows of a domain table as text, by column name,
// for the detectors in internal/pii. The values stay in the process: the
// detectors return counts, not values.
func (e *Engine) Sample(ctx context.Context, table string, n int) (map[string][]string, error) {
	schema, err := e.TableSchema(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("sample %s: %w", table, err)
	}
	text := "VARCHAR"
	if e.kind == Postgres {
		text = "TEXT"
	}
	sel := make([]string, len(schema.Columns))
	for i, c := range schema.Columns {
		sel[i] = "CAST(" + QuoteIdent(c.Name) + " AS " + text + ")"
	}
	// The first rows, not a reservoir sample: a reservoir costs a full scan
	// of a table that may be gigabytes, and detectors need shapes, not
	// a representative distribution.
	query := fmt.Sprintf("SELECT %s FROM %s LIMIT %d", strings.Join(sel, ", "), e.qualified(table), n)
	out := make(map[string][]string, len(schema.Columns))
	vals := make([]sql.NullString, len(sel))
	ptrs := make([]any, len(sel))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err = e.query(ctx, query, func(scan func(...any) error) error {
		if err := scan(ptrs...); err != nil {
			return err
		}
		for i, c := range schema.Columns {
			out[c.Name] = append(out[c.Name], vals[i].String)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sample %s: %w", table, err)
	}
	return out, nil
}

func (e *Engine) queryRow(ctx context.Context, q string, dest ...any) error {
	if e.kind == Postgres {
		return e.pg.QueryRow(ctx, q).Scan(dest...)
	}
	return e.duck.QueryRowContext(ctx, q).Scan(dest...)
}

func (e *Engine) query(ctx context.Context, q string, each func(scan func(...any) error) error) error {
	if e.kind == Postgres {
		rows, err := e.pg.Query(ctx, q)
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
	rows, err := e.duck.QueryContext(ctx, q)
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

// Query runs one read-only statement of the platform's own (a quality
// check over a whole table) and calls each for every row. An operator's
// SQL never comes here: it goes through the policy layer and the sandbox.
func (e *Engine) Query(ctx context.Context, q string, each func(scan func(...any) error) error) error {
	return e.query(ctx, q, each)
}

// Qualified is the quoted, schema-qualified name of a domain table.
func (e *Engine) Qualified(table string) string { return e.qualified(table) }
