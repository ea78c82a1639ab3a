package search

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/store"
)

// Document kinds.
const (
	KindResource = "resource"
	KindProduct  = "product"
)

// FacetKeys are the facets a Document carries and a Query may filter on,
// in the order results list them.
var FacetKeys = [...]string{"department", "domain", "grade", "region", "frequency"}

func facetIndex(key string) int {
	for i, k := range FacetKeys {
		if k == key {
			return i
		}
	}
	return -1
}

// Document is what the catalog shows of one registered resource or product:
// its description, never its data. Documents are keyed by (Kind, ID).
type Document struct {
	ID int64
	// Code is the resource's unified identifier.
	Code        string
	Kind        string
	Name        string
	Description string
	// Columns holds column names and their Chinese labels.
	Columns []string
	// Facets maps the FacetKeys to stable codes (department = org id,
	// region = GB/T 2260 code).
	Facets map[string]string
	// Public documents are the only ones the portal can find.
	Public    bool
	UpdatedAt time.Time
}

func (d Document) validate() error {
	if d.Kind != KindResource && d.Kind != KindProduct {
		return apperr.New(apperr.Invalid, "search.unknown_kind", "kind", d.Kind).OnField("kind")
	}
	for k := range d.Facets {
		if facetIndex(k) < 0 {
			return apperr.New(apperr.Invalid, "search.unknown_facet", "facet", k).OnField("facets")
		}
	}
	return nil
}

// posting is one term's frequency in each field of one document.
type posting struct{ name, cols, desc int }

// analyze returns a document's postings and its field lengths in terms.
func analyze(d Document) (map[string]*posting, [3]int) {
	ps := map[string]*posting{}
	var lens [3]int
	get := func(t string) *posting {
		p := ps[t]
		if p == nil {
			p = &posting{}
			ps[t] = p
		}
		return p
	}
	tokens(d.Name, true, func(t string) { get(t).name++; lens[0]++ })
	for _, c := range d.Columns {
		tokens(c, false, func(t string) { get(t).cols++; lens[1]++ })
	}
	tokens(d.Description, false, func(t string) { get(t).desc++; lens[2]++ })
	// The code is searchable as a word of the name (an exact identifier).
	tokens(d.Code, false, func(t string) { get(t).name++ })
	return ps, lens
}

// Index adds or replaces a document inside the caller's transaction, so the
// catalog's index commits or rolls back with the registry change itself.
func Index(ctx context.Context, tx *store.Tx, d Document) error {
	if err := d.validate(); err != nil {
		return err
	}
	if err := removeRows(ctx, tx, d.Kind, d.ID); err != nil {
		return err
	}
	return insertDocs(ctx, tx, []Document{d})
}

// Remove takes a document out of the index inside the caller's transaction;
// removing a document that is not indexed is not an error.
func Remove(ctx context.Context, tx *store.Tx, kind string, id int64) error {
	if err := removeRows(ctx, tx, kind, id); err != nil {
		return err
	}
	return touch(ctx, tx, []docKey{{kind, id}})
}

func removeRows(ctx context.Context, tx *store.Tx, kind string, id int64) error {
	if _, err := tx.Exec(ctx, `DELETE FROM search_postings WHERE kind = ? AND doc_id = ?`, kind, id); err != nil {
		return fmt.Errorf("search remove %s %d postings: %w", kind, id, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM search_docs WHERE kind = ? AND id = ?`, kind, id); err != nil {
		return fmt.Errorf("search remove %s %d: %w", kind, id, err)
	}
	return nil
}

// docKey names one document.
type docKey struct {
	kind string
	id   int64
}

// touch records that a transaction changed these documents: one new
// generation, taken under search_meta's row lock so that generations
// become visible in order, and the documents it names. Every process's
// in-memory Index reloads exactly these documents when it sees the
// generation.
func touch(ctx context.Context, tx *store.Tx, keys []docKey) error {
	var gen int64
	if err := tx.QueryRow(ctx, `UPDATE search_meta SET gen = gen + 1 WHERE id = 1 RETURNING gen`).Scan(&gen); err != nil {
		return fmt.Errorf("search generation: %w", err)
	}
	const batch = 300
	var sb strings.Builder
	args := make([]any, 0, 3*batch)
	for start := 0; start < len(keys); start += batch {
		sb.Reset()
		args = args[:0]
		sb.WriteString(`INSERT INTO search_changes (gen, kind, doc_id) VALUES `)
		for i, k := range keys[start:min(start+batch, len(keys))] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?)")
			args = append(args, gen, k.kind, k.id)
		}
		sb.WriteString(` ON CONFLICT DO NOTHING`)
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("search changes: %w", err)
		}
	}
	return nil
}

// insertDocs inserts documents known not to be indexed, batching postings
// into multi-row statements; seeding a large catalog goes through here.
func insertDocs(ctx context.Context, tx *store.Tx, docs []Document) error {
	type row struct {
		term string
		kind string
		id   int64
		p    *posting
	}
	var all []row
	keys := make([]docKey, 0, len(docs))
	for _, d := range docs {
		if err := d.validate(); err != nil {
			return err
		}
		ps, lens := analyze(d)
		pub := 0
		if d.Public {
			pub = 1
		}
		fv := make([]any, len(FacetKeys))
		for i, k := range FacetKeys {
			fv[i] = d.Facets[k]
		}
		keys = append(keys, docKey{d.Kind, d.ID})
		_, err := tx.Exec(ctx, `INSERT INTO search_docs (kind, id, code, name, public, updated_at,
			department, domain, grade, region, frequency, name_len, cols_len, desc_len)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.Kind, d.ID, d.Code, d.Name, pub, d.UpdatedAt.UnixMicro(),
			fv[0], fv[1], fv[2], fv[3], fv[4], lens[0], lens[1], lens[2])
		if err != nil {
			return fmt.Errorf("search index %s %d: %w", d.Kind, d.ID, err)
		}
		for t, p := range ps {
			all = append(all, row{t, d.Kind, d.ID, p})
		}
	}
	// In key order, a large batch appends to each term's run of the index
	// instead of touching pages at random.
	sort.Slice(all, func(i, j int) bool {
		a, b := &all[i], &all[j]
		if a.term != b.term {
			return a.term < b.term
		}
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		return a.id < b.id
	})
	const batch = 1000
	var sb strings.Builder
	args := make([]any, 0, batch*6)
	for start := 0; start < len(all); start += batch {
		sb.Reset()
		args = args[:0]
		sb.WriteString(`INSERT INTO search_postings (term, kind, doc_id, tf_name, tf_cols, tf_desc) VALUES `)
		for i, r := range all[start:min(start+batch, len(all))] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?)")
			args = append(args, r.term, r.kind, r.id, r.p.name, r.p.cols, r.p.desc)
		}
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("search index postings: %w", err)
		}
	}
	return touch(ctx, tx, keys)
}
