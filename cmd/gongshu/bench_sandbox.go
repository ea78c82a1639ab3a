package main

import (
	"context"
	"io"
	"os"

	"github.com/gongshu/gongshu/internal/sandbox"
)

// benchSandbox runs `gongshu bench sandbox`: the policy's parse, check and
// rewrite time, and an enforced aggregate against the same aggregate run
// straight on the engine.
func benchSandbox(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var rows, pgRows int
	var data, domain string
	fs := newFlagSet("bench sandbox", "bench sandbox [--rows N] [--data DIR] [--domain postgres://…] [--pg-rows N]", stderr)
	fs.IntVar(&rows, "rows", 10_000_000, "rows of the generated DuckDB resource")
	fs.StringVar(&data, "data", "", "directory for the scratch domain (default: a temporary one)")
	fs.StringVar(&domain, "domain", "", "PostgreSQL domain to measure too (a scratch schema is advised: ?domain_schema=bench)")
	fs.IntVar(&pgRows, "pg-rows", 1_000_000, "rows of the generated PostgreSQL resource")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(data, "gongshu-bench-sandbox-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	return sandbox.Bench(ctx, dir, rows, domain, pgRows, stdout)
}
