package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// LoadResult describes a loaded table.
type LoadResult struct {
	Table  string `json:"table"`
	Schema Schema `json:"schema"`
	Rows   int64  `json:"rows"`
	// Bytes and SHA256 are of the source as read (the file, or the CSV
	// stream of a PostgreSQL table), so a department can prove what it gave.
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// ErrExists is returned when a load names a table that already exists:
// loaded tables are immutable versions, never replaced.
var ErrExists = errors.New("engine: table already exists")

// Load reads src into a new domain table. It loads into a staging table and
// renames it only once complete, so a failed or cancelled load (ctx) leaves
// no table behind. progress, when not nil, is called now and then with the
// bytes read so far (rows -1 while unknown) and once at the end with both;
// it may be called from another goroutine, never concurrently. A failed
// load still reports the bytes and hash of the source when it read it all.
func (e *Engine) Load(ctx context.Context, table string, src Source, progress func(bytes, rows int64)) (LoadResult, error) {
	if err := checkIdent(table); err != nil {
		return LoadResult{}, err
	}
	if len(table) > 40 {
		return LoadResult{}, fmt.Errorf("engine: table name %q too long", table)
	}
	if err := src.validate(); err != nil {
		return LoadResult{}, err
	}
	if ok, err := e.Exists(ctx, table); err != nil {
		return LoadResult{}, err
	} else if ok {
		return LoadResult{}, fmt.Errorf("load %s: %w", table, ErrExists)
	}
	res := LoadResult{Table: table}
	path, format, types, delim := src.Path, src.Format, src.Types, src.Delimiter
	var cleanup []string
	defer func() {
		for _, p := range cleanup {
			os.Remove(p)
		}
	}()
	// The hash of a file is computed while the engine reads it: the file is
	// read twice, but on two cores at once, and the page cache serves the
	// second read.
	type hashed struct {
		sum string
		n   int64
		err error
	}
	hashDone := make(chan hashed, 1)
	switch src.Format {
	case CSV, Parquet, XLSX:
		go func() {
			sum, n, err := hashFile(ctx, src.Path, progress)
			hashDone <- hashed{sum, n, err}
		}()
		if src.Format == XLSX {
			p, err := e.xlsxToCSV(ctx, src, 0)
			if err != nil {
				<-hashDone
				return LoadResult{}, err
			}
			cleanup = append(cleanup, p)
			path, format, delim = p, CSV, ","
		}
	case PGTable:
		p, cols, sum, n, err := e.pgSourceToCSV(ctx, src, 0, progress)
		if err != nil {
			return LoadResult{}, err
		}
		cleanup = append(cleanup, p)
		path, format, delim = p, CSV, ","
		types = make(map[string]string, len(cols))
		for _, c := range cols {
			types[c.Name] = duckTypeOfPG(c.Type)
		}
		hashDone <- hashed{sum, n, nil}
	}
	stg := stagingPrefix + table + "_" + randomSuffix()
	var err error
	if e.kind == Postgres {
		err = e.loadPostgres(ctx, stg, table, path, format, types, delim, &cleanup)
	} else {
		err = e.loadDuck(ctx, stg, table, readerSQL(format, path, types, delim))
	}
	h := <-hashDone
	if err == nil {
		err = h.err
	}
	if err == nil {
		res.Schema, err = e.TableSchema(ctx, table)
	}
	if err == nil {
		res.Rows, err = e.count(ctx, table)
	}
	if err != nil {
		// Nothing may be left behind, even when ctx is already cancelled.
		dctx := context.WithoutCancel(ctx)
		_ = e.Drop(dctx, stg)
		_ = e.Drop(dctx, table)
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		// What was read is still reported, for the failure's audit entry.
		return LoadResult{Table: table, Bytes: h.n, SHA256: h.sum}, fmt.Errorf("load %s from %s: %w", table, src.Name(), err)
	}
	res.SHA256, res.Bytes = h.sum, h.n
	if progress != nil {
		progress(res.Bytes, res.Rows)
	}
	return res, nil
}

// loadDuck creates the staging table from a DuckDB reader and renames it.
func (e *Engine) loadDuck(ctx context.Context, stg, table, reader string) error {
	if _, err := e.duck.ExecContext(ctx, "CREATE TABLE "+QuoteIdent(stg)+" AS SELECT * FROM "+reader); err != nil {
		return err
	}
	tx, err := e.duck.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "ALTER TABLE "+QuoteIdent(stg)+" RENAME TO "+QuoteIdent(table)); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// loadPostgres normalizes the file to a plain CSV with the scratch DuckDB
// (which also reads Parquet and sniffs types), creates the staging table
// with matching PostgreSQL types, streams the CSV in with COPY FROM STDIN
// and renames the table in one transaction.
func (e *Engine) loadPostgres(ctx context.Context, stg, table, path string, format Format, types map[string]string, delim string, cleanup *[]string) error {
	cols, err := e.describe(ctx, readerSQL(format, path, types, delim))
	if err != nil {
		return err
	}
	norm, err := os.CreateTemp(e.tmpDir, "norm-*.csv")
	if err != nil {
		return err
	}
	norm.Close()
	*cleanup = append(*cleanup, norm.Name())
	if _, err := e.scratch.ExecContext(ctx, "COPY (SELECT * FROM "+readerSQL(format, path, types, delim)+") TO "+
		quoteLiteral(norm.Name())+" (FORMAT csv, HEADER true, DELIMITER ',')"); err != nil {
		return err
	}
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = QuoteIdent(c.Name) + " " + pgTypeOfDuck(c.Type)
	}
	qstg := QuoteIdent(e.schema) + "." + QuoteIdent(stg)
	if _, err := e.pg.Exec(ctx, "CREATE TABLE "+qstg+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return err
	}
	f, err := os.Open(norm.Name())
	if err != nil {
		return err
	}
	defer f.Close()
	conn, err := e.pg.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Conn().PgConn().CopyFrom(ctx, f, "COPY "+qstg+" FROM STDIN WITH (FORMAT csv, HEADER true)"); err != nil {
		return err
	}
	tx, err := e.pg.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "ALTER TABLE "+qstg+" RENAME TO "+QuoteIdent(table)); err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return tx.Commit(ctx)
}

func (e *Engine) count(ctx context.Context, table string) (int64, error) {
	var n int64
	q := "SELECT count(*) FROM " + e.qualified(table)
	var err error
	if e.kind == Postgres {
		err = e.pg.QueryRow(ctx, q).Scan(&n)
	} else {
		err = e.duck.QueryRowContext(ctx, q).Scan(&n)
	}
	return n, err
}

// describe returns the columns a DuckDB reader yields, using the scratch database.
func (e *Engine) describe(ctx context.Context, reader string) ([]Column, error) {
	rows, err := e.scratch.QueryContext(ctx, "DESCRIBE SELECT * FROM "+reader)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanDescribe(rows)
}

type sqlRows interface {
	Columns() ([]string, error)
	Next() bool
	Scan(...any) error
	Err() error
}

// scanDescribe reads DESCRIBE output: column_name, column_type, ….
func scanDescribe(rows sqlRows) ([]Column, error) {
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []Column
	for rows.Next() {
		vals := make([]any, len(names))
		var c Column
		vals[0], vals[1] = &c.Name, &c.Type
		for i := 2; i < len(vals); i++ {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// TableSchema returns a domain table's columns and types.
func (e *Engine) TableSchema(ctx context.Context, table string) (Schema, error) {
	if err := checkIdent(table); err != nil {
		return Schema{}, err
	}
	var cols []Column
	if e.kind == Postgres {
		rows, err := e.pg.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, e.schema, table)
		if err != nil {
			return Schema{}, err
		}
		defer rows.Close()
		for rows.Next() {
			var c Column
			if err := rows.Scan(&c.Name, &c.Type); err != nil {
				return Schema{}, err
			}
			cols = append(cols, c)
		}
		if err := rows.Err(); err != nil {
			return Schema{}, err
		}
	} else {
		rows, err := e.duck.QueryContext(ctx, "DESCRIBE "+QuoteIdent(table))
		if err != nil {
			return Schema{}, err
		}
		defer rows.Close()
		if cols, err = scanDescribe(rows); err != nil {
			return Schema{}, err
		}
	}
	if len(cols) == 0 {
		return Schema{}, fmt.Errorf("engine: no table %s", table)
	}
	return Schema{Columns: cols}, nil
}

// BaselineReadCSV creates table straight from DuckDB's read_csv with its
// defaults: no staging table, no hash, no checks. It exists only as the
// baseline the ingest benchmark compares a full load against.
func (e *Engine) BaselineReadCSV(ctx context.Context, table, path string) error {
	if e.kind != DuckDB {
		return fmt.Errorf("engine: the read_csv baseline needs DuckDB")
	}
	if err := checkIdent(table); err != nil {
		return err
	}
	_, err := e.duck.ExecContext(ctx, "CREATE TABLE "+QuoteIdent(table)+" AS SELECT * FROM read_csv("+quoteLiteral(path)+")")
	return err
}
