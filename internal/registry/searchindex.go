package registry

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/gongshu/gongshu/internal/search"
	"github.com/gongshu/gongshu/internal/store"
)

// SearchIndex keeps the catalog's search index (internal/search) in step
// with registrations, in the registration's own transaction, and answers
// the catalog's text queries from it.
type SearchIndex struct {
	reader *search.Reader
}

// NewSearchIndex returns the index over db.
func NewSearchIndex(db *store.DB) *SearchIndex { return &SearchIndex{reader: search.NewReader(db)} }

// Warm loads the index into memory ahead of the first query.
func (x *SearchIndex) Warm(ctx context.Context) error { return x.reader.Warm(ctx) }

// domainWords are added to a resource's searchable text so that the
// everyday name of its domain finds it (社保 → 社会保险参保缴费信息).
func domainWords(domain string) string {
	var out string
	for alias, d := range DomainAliases {
		if d == domain {
			out += " " + alias
		}
	}
	return out
}

// Index implements Indexer: a public item is (re)indexed with its live
// version, any other is removed from the portal's view.
func (x *SearchIndex) Index(ctx context.Context, tx *store.Tx, it Item) error {
	kind := search.KindResource
	if it.Kind == KindProduct {
		kind = search.KindProduct
	}
	if !it.Public() || it.Status == Cancelled {
		return search.Remove(ctx, tx, kind, it.ID)
	}
	d := search.Document{ID: it.ID, Code: it.Code, Kind: kind, Name: it.Name, Public: true, UpdatedAt: it.UpdatedAt,
		Facets: map[string]string{"department": strconv.FormatInt(it.HolderOrgID, 10), "region": it.Region}}
	switch it.Kind {
	case KindResource:
		var f ResourceForm
		if err := json.Unmarshal(it.Fields, &f); err != nil {
			return err
		}
		d.Description = f.Description + " " + f.Classification + domainWords(f.Domain)
		for _, c := range f.Items {
			d.Columns = append(d.Columns, c.Name, c.Label)
		}
		d.Facets["domain"], d.Facets["grade"], d.Facets["frequency"] = f.Domain, f.Grade, f.Frequency
	case KindProduct:
		var f ProductForm
		if err := json.Unmarshal(it.Fields, &f); err != nil {
			return err
		}
		d.Description = f.Description
	}
	return search.Index(ctx, tx, d)
}

// Search runs a catalog query on the index: one ranked page with its
// total and facet counts.
func (x *SearchIndex) Search(ctx context.Context, q search.Query) (search.Result, error) {
	return x.reader.Search(ctx, q)
}
