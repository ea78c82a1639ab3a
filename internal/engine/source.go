package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"
)

// Format is the kind of source a load reads.
type Format string

const (
	CSV     Format = "csv"
	XLSX    Format = "xlsx"
	Parquet Format = "parquet"
	PGTable Format = "postgres" // a table on a department's PostgreSQL server
)

// Source is where a load reads from: a file in the domain's upload area, or
// a PostgreSQL table of the holding department.
type Source struct {
	Format Format
	// Path is the file (CSV, XLSX, Parquet).
	Path string
	// Sheet names the worksheet of an XLSX file; empty means the first.
	Sheet string
	// Types fixes column types of a CSV by column name (engine type names,
	// e.g. "VARCHAR" to keep leading zeros); other columns are sniffed.
	Types map[string]string
	// Delimiter of a CSV; empty means a comma. It is never sniffed: a
	// sniffer that guesses wrong on a malformed file would load it as one
	// column instead of refusing it.
	Delimiter string
	// URL and Table name a PostgreSQL source ("schema.table" or "table").
	URL   string
	Table string
}

// Name describes the source for the record, without secrets.
func (s Source) Name() string {
	if s.Format == PGTable {
		return s.Table
	}
	n := filepath.Base(s.Path)
	if s.Sheet != "" {
		n += "#" + s.Sheet
	}
	return n
}

func (s Source) validate() error {
	switch s.Format {
	case CSV, XLSX, Parquet:
		if s.Path == "" {
			return fmt.Errorf("engine: %s source without a path", s.Format)
		}
	case PGTable:
		if s.URL == "" || s.Table == "" {
			return fmt.Errorf("engine: postgres source needs a url and a table")
		}
	default:
		return fmt.Errorf("engine: unknown source format %q", s.Format)
	}
	return nil
}

// Column is one column of a schema, with the engine's type name.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Schema is the ordered columns of a table or source.
type Schema struct {
	Columns []Column `json:"columns"`
}

// Names lists the column names.
func (s Schema) Names() []string {
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		out[i] = c.Name
	}
	return out
}

// hashingReader hashes and counts what passes through it and reports
// progress every few megabytes.
type hashingReader struct {
	r        io.Reader
	h        interface{ Write([]byte) (int, error) }
	n, last  int64
	progress func(bytes, rows int64)
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if n > 0 {
		h.h.Write(p[:n])
		h.n += int64(n)
		if h.progress != nil && h.n-h.last >= 8<<20 {
			h.last = h.n
			h.progress(h.n, -1)
		}
	}
	return n, err
}

// hashFile returns the SHA-256 and size of a file, reporting progress.
func hashFile(ctx context.Context, path string, progress func(bytes, rows int64)) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	hr := &hashingReader{r: f, h: h, progress: progress}
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		_, err := hr.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", 0, err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), hr.n, nil
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// xlsxToCSV streams a worksheet into a CSV file (row by row, never the
// whole sheet in memory) and returns the file's path. limit > 0 stops after
// that many data rows.
func (e *Engine) xlsxToCSV(ctx context.Context, src Source, limit int) (string, error) {
	f, err := excelize.OpenFile(src.Path)
	if err != nil {
		return "", fmt.Errorf("open xlsx %s: %w", src.Name(), err)
	}
	defer f.Close()
	sheet := src.Sheet
	if sheet == "" {
		sheet = f.GetSheetName(0)
	}
	if idx, err := f.GetSheetIndex(sheet); err != nil || idx < 0 {
		return "", fmt.Errorf("xlsx %s: no sheet %q", src.Name(), sheet)
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		return "", fmt.Errorf("xlsx %s: %w", src.Name(), err)
	}
	defer rows.Close()
	out, err := os.CreateTemp(e.tmpDir, "xlsx-*.csv")
	if err != nil {
		return "", err
	}
	w := csv.NewWriter(out)
	width, n := 0, 0
	for rows.Next() {
		if err := ctx.Err(); err != nil {
			out.Close()
			os.Remove(out.Name())
			return "", err
		}
		cells, err := rows.Columns()
		if err != nil {
			out.Close()
			os.Remove(out.Name())
			return "", fmt.Errorf("xlsx %s: %w", src.Name(), err)
		}
		if n == 0 {
			width = len(cells)
		}
		// Trailing empty cells are omitted by the reader; pad to the header.
		for len(cells) < width {
			cells = append(cells, "")
		}
		if err := w.Write(cells[:max(width, 0)]); err != nil {
			out.Close()
			os.Remove(out.Name())
			return "", err
		}
		n++
		if limit > 0 && n > limit {
			break
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		out.Close()
		os.Remove(out.Name())
		return "", err
	}
	if err := out.Close(); err != nil {
		os.Remove(out.Name())
		return "", err
	}
	if n == 0 {
		os.Remove(out.Name())
		return "", fmt.Errorf("xlsx %s: sheet %q is empty", src.Name(), sheet)
	}
	return out.Name(), nil
}

// pgSourceColumns reads the column names and declared types of a
// PostgreSQL source table.
func pgSourceColumns(ctx context.Context, conn *pgx.Conn, table string) ([]Column, error) {
	rows, err := conn.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, table)
	if err != nil {
		return nil, fmt.Errorf("postgres source %s: %w", table, err)
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Column, error) {
		var c Column
		err := r.Scan(&c.Name, &c.Type)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres source %s: %w", table, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("postgres source %s: no columns", table)
	}
	return cols, nil
}

// quoteQualified quotes "schema.table" or "table" part by part.
func quoteQualified(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = QuoteIdent(p)
	}
	return strings.Join(parts, ".")
}

// pgSourceToCSV copies a PostgreSQL source table (limit > 0: its first rows)
// into a CSV file with a header, hashing the stream, and returns the path,
// the columns and the hash.
func (e *Engine) pgSourceToCSV(ctx context.Context, src Source, limit int, progress func(bytes, rows int64)) (string, []Column, string, int64, error) {
	conn, err := pgx.Connect(ctx, src.URL)
	if err != nil {
		return "", nil, "", 0, fmt.Errorf("connect postgres source: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	cols, err := pgSourceColumns(ctx, conn, src.Table)
	if err != nil {
		return "", nil, "", 0, err
	}
	q := "SELECT * FROM " + quoteQualified(src.Table)
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	out, err := os.CreateTemp(e.tmpDir, "pg-*.csv")
	if err != nil {
		return "", nil, "", 0, err
	}
	h := sha256.New()
	hw := &countingWriter{w: io.MultiWriter(out, h), progress: progress}
	_, err = conn.PgConn().CopyTo(ctx, hw, "COPY ("+q+") TO STDOUT WITH (FORMAT csv, HEADER true)")
	cerr := out.Close()
	if err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return "", nil, "", 0, fmt.Errorf("copy postgres source %s: %w", src.Table, err)
	}
	return out.Name(), cols, hex.EncodeToString(h.Sum(nil)), hw.n, nil
}

type countingWriter struct {
	w        io.Writer
	n, last  int64
	progress func(bytes, rows int64)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil && c.n-c.last >= 8<<20 {
		c.last = c.n
		c.progress(c.n, -1)
	}
	return n, err
}

// duckTypeOfPG maps a PostgreSQL column type to the DuckDB type that keeps
// its values.
func duckTypeOfPG(t string) string {
	t = strings.ToLower(t)
	switch {
	case t == "smallint" || t == "integer" || t == "bigint":
		return "BIGINT"
	case t == "real" || t == "double precision":
		return "DOUBLE"
	case strings.HasPrefix(t, "numeric("):
		return "DECIMAL" + strings.TrimPrefix(t, "numeric")
	case t == "numeric":
		return "DECIMAL(38,10)"
	case t == "date":
		return "DATE"
	case strings.HasPrefix(t, "timestamp") && strings.Contains(t, "with time zone"):
		return "TIMESTAMPTZ"
	case strings.HasPrefix(t, "timestamp"):
		return "TIMESTAMP"
	case t == "boolean":
		return "BOOLEAN"
	}
	return "VARCHAR"
}

// pgTypeOfDuck maps a DuckDB type to a PostgreSQL column type.
func pgTypeOfDuck(t string) string {
	u := strings.ToUpper(t)
	switch {
	case u == "TINYINT" || u == "SMALLINT" || u == "INTEGER" || u == "BIGINT" ||
		u == "UTINYINT" || u == "USMALLINT" || u == "UINTEGER":
		return "bigint"
	case u == "HUGEINT" || u == "UBIGINT":
		return "numeric"
	case u == "DOUBLE" || u == "FLOAT":
		return "double precision"
	case strings.HasPrefix(u, "DECIMAL"):
		return "numeric" + strings.TrimPrefix(u, "DECIMAL")
	case u == "DATE":
		return "date"
	case u == "TIMESTAMP WITH TIME ZONE" || u == "TIMESTAMPTZ":
		return "timestamptz"
	case strings.HasPrefix(u, "TIMESTAMP"):
		return "timestamp"
	case u == "TIME":
		return "time"
	case u == "BOOLEAN":
		return "boolean"
	}
	return "text"
}

// typesOption renders read_csv's types={...} parameter, sorted for stable SQL.
func typesOption(types map[string]string) string {
	if len(types) == 0 {
		return ""
	}
	keys := make([]string, 0, len(types))
	for k := range types {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(", types={")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteLiteral(k) + ": " + quoteLiteral(types[k]))
	}
	b.WriteString("}")
	return b.String()
}

// readerSQL is the DuckDB table function reading a prepared file.
func readerSQL(format Format, path string, types map[string]string, delim string) string {
	if format == Parquet {
		return "read_parquet(" + quoteLiteral(path) + ")"
	}
	// Strict parsing: a malformed file fails the load instead of loading
	// part of it; all_varchar is never used so numbers stay numbers.
	if delim == "" {
		delim = ","
	}
	return "read_csv(" + quoteLiteral(path) + ", header=true, delim=" + quoteLiteral(delim) + ", quote='\"', auto_detect=true, strict_mode=true, sample_size=20480" + typesOption(types) + ")"
}
