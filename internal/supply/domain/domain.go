// Package domain adapts the data plane (internal/engine) to the Engine that
// internal/supply consumes, and holds the ingest benchmark that needs both.
// It is the only supply package that links DuckDB; supply itself stays
// light so its tests run on a fake. It owns no rules.
package domain

import (
	"context"

	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/supply"
)

// Adapt returns e as a supply.Engine.
func Adapt(e *engine.Engine) supply.Engine { return adapter{e} }

type adapter struct{ e *engine.Engine }

func source(s supply.Source) engine.Source {
	return engine.Source{Format: engine.Format(s.Format), Path: s.Path, Sheet: s.Sheet, Delimiter: s.Delimiter,
		Types: s.Types, URL: s.URL, Table: s.Table}
}

func columns(cs []engine.Column) []supply.Column {
	out := make([]supply.Column, len(cs))
	for i, c := range cs {
		out[i] = supply.Column{Name: c.Name, Type: c.Type}
	}
	return out
}

func (a adapter) Infer(ctx context.Context, src supply.Source, n int) ([]supply.Column, [][]string, error) {
	s, rows, err := a.e.Infer(ctx, source(src), n)
	return columns(s.Columns), rows, err
}

func (a adapter) Load(ctx context.Context, table string, src supply.Source, progress func(bytes, rows int64)) (supply.Loaded, error) {
	r, err := a.e.Load(ctx, table, source(src), progress)
	return supply.Loaded{Table: r.Table, Columns: columns(r.Schema.Columns), Rows: r.Rows, Bytes: r.Bytes, SHA256: r.SHA256}, err
}

func (a adapter) Profile(ctx context.Context, table string, skip map[string]bool) ([]supply.ColumnProfile, error) {
	ps, err := a.e.Profile(ctx, table, skip)
	if err != nil {
		return nil, err
	}
	out := make([]supply.ColumnProfile, len(ps))
	for i, p := range ps {
		out[i] = supply.ColumnProfile{Name: p.Name, Type: p.Type, Rows: p.Rows, Nulls: p.Nulls, Distinct: p.Distinct, Min: p.Min, Max: p.Max}
		for _, t := range p.Top {
			out[i].Top = append(out[i].Top, supply.ValueCount{Value: t.Value, Count: t.Count})
		}
	}
	return out, nil
}

func (a adapter) Sample(ctx context.Context, table string, n int) (map[string][]string, error) {
	return a.e.Sample(ctx, table, n)
}

func (a adapter) Drop(ctx context.Context, table string) error { return a.e.Drop(ctx, table) }
