package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gongshu/gongshu/internal/supply"
)

// cmdIngest loads a file (or a PostgreSQL table) into the data domain as
// the next version of a registered resource, acting as the person whose
// API token it is given, and shows progress on the terminal.
func cmdIngest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonFlags
	var resource int64
	var token, format, sheet, srcURL, srcTable string
	fs := newFlagSet("ingest", "ingest --data DIR --resource ID --token TOKEN FILE | --source-url postgres://… --source-table schema.table", stderr)
	c.register(fs, "")
	fs.Int64Var(&resource, "resource", 0, "the registered resource the data belongs to")
	fs.StringVar(&token, "token", "", "API token of the department user who loads (gongshu token create)")
	fs.StringVar(&format, "format", "", "csv, xlsx or parquet (default: from the file name)")
	fs.StringVar(&sheet, "sheet", "", "XLSX worksheet (default: the first)")
	fs.StringVar(&srcURL, "source-url", "", "pull from this PostgreSQL database instead of a file")
	fs.StringVar(&srcTable, "source-table", "", "the schema.table to pull with --source-url")
	files, err := parseFiles(fs, args, getenv)
	if err != nil {
		return err
	}
	if resource <= 0 {
		return errors.New("ingest: --resource ID is required (the number shown on the resource's console page)")
	}
	if token == "" {
		return errors.New("ingest: --token is required: the load is done and audited as the person the token belongs to")
	}
	var src supply.Source
	var size int64
	switch {
	case srcURL != "":
		if srcTable == "" || len(files) > 0 {
			return errors.New("ingest: with --source-url give --source-table schema.table and no file")
		}
		src = supply.Source{Format: supply.Postgres, URL: srcURL, Table: srcTable}
	case len(files) == 1:
		path := files[0]
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		size = fi.Size()
		if format == "" {
			format = strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
		}
		switch supply.Format(format) {
		case supply.CSV, supply.XLSX, supply.Parquet:
		default:
			return fmt.Errorf("ingest: unknown format %q: use --format csv, xlsx or parquet", format)
		}
		abs, _ := filepath.Abs(path)
		src = supply.Source{Format: supply.Format(format), Path: abs, Sheet: sheet}
	default:
		return errors.New("ingest: give one FILE, or --source-url and --source-table")
	}
	a, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if a.Supply == nil {
		return errors.New("ingest: no data domain: pass --data DIR or --domain postgres://…")
	}
	p, err := a.Identity.AuthenticateToken(ctx, token)
	if err != nil {
		return fmt.Errorf("ingest: the token: %w", describe(a, err))
	}
	bar := newProgress(stderr, size)
	v, err := a.Supply.Load(ctx, p, resource, src, bar.update)
	bar.finish()
	if err != nil {
		return fmt.Errorf("ingest: %w", describe(a, err))
	}
	fmt.Fprintf(stdout, "loaded resource %d version %d: %d rows, %d bytes, sha256 %s, table %s\n", v.ResourceID, v.Version, v.Rows, v.Bytes, v.SHA256, v.Table)
	return nil
}

// progress draws a one-line bar on the terminal, at most ten times a second.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	total int64
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, total int64) *progress {
	return &progress{w: w, total: total, start: time.Now()}
}

func (p *progress) update(bytes, rows int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	el := time.Since(p.start).Seconds()
	if p.total > 0 {
		frac := min(float64(bytes)/float64(p.total), 1)
		n := int(frac * 30)
		line := fmt.Sprintf("\r[%s%s] %3.0f%% %7.1f MB/s", strings.Repeat("=", n), strings.Repeat(" ", 30-n), frac*100, float64(bytes)/1e6/max(el, 1e-3))
		if rows >= 0 {
			line += fmt.Sprintf(" %d rows", rows)
		}
		fmt.Fprint(p.w, line)
		return
	}
	fmt.Fprintf(p.w, "\r%d rows, %.1f MB", rows, float64(bytes)/1e6)
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r%s\rdone in %s\n", strings.Repeat(" ", 70), time.Since(p.start).Round(time.Millisecond))
}
