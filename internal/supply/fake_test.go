package supply

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
)

// fakeEngine is an in-memory domain: CSV sources only, every column text.
type fakeEngine struct {
	mu     sync.Mutex
	tables map[string][][]string // header row first
	// failDrop makes Drop fail, to see the error surface.
	dropped []string
}

func newFakeEngine() *fakeEngine { return &fakeEngine{tables: map[string][][]string{}} }

func (f *fakeEngine) read(src Source) ([][]string, []byte, error) {
	if src.Format != CSV {
		return nil, nil, fmt.Errorf("fake engine reads CSV only")
	}
	b, err := os.ReadFile(src.Path)
	if err != nil {
		return nil, nil, err
	}
	r := csv.NewReader(bytesReader(b))
	recs, err := r.ReadAll()
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, nil, errors.New("empty")
	}
	return recs, b, nil
}

func (f *fakeEngine) Infer(ctx context.Context, src Source, n int) ([]Column, [][]string, error) {
	recs, _, err := f.read(src)
	if err != nil {
		return nil, nil, err
	}
	rows := recs[1:]
	if len(rows) > n {
		rows = rows[:n]
	}
	return cols(recs[0]), rows, nil
}

func cols(h []string) []Column {
	out := make([]Column, len(h))
	for i, n := range h {
		out[i] = Column{Name: n, Type: "VARCHAR"}
	}
	return out
}

func (f *fakeEngine) Load(ctx context.Context, table string, src Source, progress func(bytes, rows int64)) (Loaded, error) {
	if err := ctx.Err(); err != nil {
		return Loaded{}, err
	}
	recs, b, err := f.read(src)
	if err != nil {
		return Loaded{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.tables[table]; ok {
		return Loaded{}, errors.New("exists")
	}
	f.tables[table] = recs
	sum := sha256.Sum256(b)
	return Loaded{Table: table, Columns: cols(recs[0]), Rows: int64(len(recs) - 1), Bytes: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}, nil
}

func (f *fakeEngine) table(name string) ([][]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tables[name]
	if !ok {
		return nil, fmt.Errorf("no table %s", name)
	}
	return t, nil
}

func (f *fakeEngine) Profile(ctx context.Context, table string, skip map[string]bool) ([]ColumnProfile, error) {
	t, err := f.table(table)
	if err != nil {
		return nil, err
	}
	var out []ColumnProfile
	for i, name := range t[0] {
		counts := map[string]int64{}
		for _, r := range t[1:] {
			counts[r[i]]++
		}
		p := ColumnProfile{Name: name, Type: "VARCHAR", Rows: int64(len(t) - 1), Distinct: int64(len(counts))}
		if !skip[name] {
			for v, n := range counts {
				if n > 1 {
					p.Top = append(p.Top, ValueCount{Value: v, Count: n})
				}
			}
			sort.Slice(p.Top, func(a, b int) bool { return p.Top[a].Value < p.Top[b].Value })
		}
		out = append(out, p)
	}
	return out, nil
}

func (f *fakeEngine) Sample(ctx context.Context, table string, n int) (map[string][]string, error) {
	t, err := f.table(table)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for j, r := range t[1:] {
		if j >= n {
			break
		}
		for i, name := range t[0] {
			out[name] = append(out[name], r[i])
		}
	}
	return out, nil
}

func (f *fakeEngine) Drop(ctx context.Context, table string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tables, table)
	f.dropped = append(f.dropped, table)
	return nil
}

func (f *fakeEngine) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.tables {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
