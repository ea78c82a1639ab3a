package registry

import (
	"context"

	"fmt"
	"github.com/gongshu/gongshu/internal/identity"
	"sort"
	"strconv"
	"strings"
)

// anyone is the anonymous visitor of the public catalog.
var anyone = identity.Principal{}

// Facets the public catalog browses by; each is a column of registry_items.
var Facets = []string{"domain", "grade", "frequency", "department", "region"}

var facetColumn = map[string]string{
	"domain": "i.domain", "grade": "i.grade", "frequency": "i.frequency",
	"department": "CAST(i.holder_org_id AS TEXT)", "region": "i.region_code",
}

// BrowseQuery selects public registered items by facet values (AND across
// facets, OR within one); text queries go to the search index.
type BrowseQuery struct {
	Kind    Kind
	Filters map[string][]string
	Offset  int
	Limit   int
}

// FacetCount is how many items share a facet value.
type FacetCount struct {
	Value string `json:"value"`
	Label string `json:"label,omitempty"`
	Count int    `json:"count"`
}

// BrowseResult is a page of the catalog with its facet counts, each
// counted with the other facets' filters applied.
type BrowseResult struct {
	Total  int                     `json:"total"`
	Items  []Item                  `json:"items"`
	Facets map[string][]FacetCount `json:"facets"`
}

// Browse lists the public catalog: registered, not cancelled, never any data.
func (s *Service) Browse(ctx context.Context, q BrowseQuery) (BrowseResult, error) {
	res := BrowseResult{Facets: map[string][]FacetCount{}}
	if q.Limit <= 0 || q.Limit > 100 {
		q.Limit = 20
	}
	kind := q.Kind
	if kind == "" {
		kind = KindResource
	}
	where := func(skip string) (string, []any) {
		conds := []string{"i.live_version > 0", "i.status <> 'cancelled'", "i.kind = ?"}
		args := []any{string(kind)}
		for _, f := range Facets {
			vals := q.Filters[f]
			if f == skip || len(vals) == 0 {
				continue
			}
			ph := strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")
			conds = append(conds, facetColumn[f]+" IN ("+ph+")")
			for _, v := range vals {
				args = append(args, v)
			}
		}
		return " WHERE " + strings.Join(conds, " AND "), args
	}
	w, args := where("")
	if err := s.db.QueryRow(ctx, "SELECT COUNT(*)"+itemFrom+w, args...).Scan(&res.Total); err != nil {
		return res, fmt.Errorf("catalog count: %w", err)
	}
	rows, err := s.db.Query(ctx, "SELECT "+itemColumns+itemFrom+w+" ORDER BY i.updated_at DESC, i.id DESC LIMIT "+
		strconv.Itoa(q.Limit)+" OFFSET "+strconv.Itoa(max(q.Offset, 0)), args...)
	if err != nil {
		return res, fmt.Errorf("catalog: %w", err)
	}
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			rows.Close()
			return res, fmt.Errorf("catalog: %w", err)
		}
		res.Items = append(res.Items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, err
	}
	for _, f := range Facets {
		w, args := where(f)
		col := facetColumn[f]
		label := "''"
		if f == "department" {
			label = "MIN(o.name)"
		}
		rows, err := s.db.Query(ctx, "SELECT "+col+", "+label+", COUNT(*)"+itemFrom+w+" GROUP BY "+col, args...)
		if err != nil {
			return res, fmt.Errorf("catalog facet %s: %w", f, err)
		}
		var counts []FacetCount
		for rows.Next() {
			var c FacetCount
			if err := rows.Scan(&c.Value, &c.Label, &c.Count); err != nil {
				rows.Close()
				return res, err
			}
			counts = append(counts, c)
		}
		rows.Close()
		sort.Slice(counts, func(i, j int) bool {
			if counts[i].Count != counts[j].Count {
				return counts[i].Count > counts[j].Count
			}
			return counts[i].Value < counts[j].Value
		})
		res.Facets[f] = counts
	}
	return res, nil
}

// DataItems returns the declared data items of a public item's live version.
func (s *Service) DataItems(ctx context.Context, id int64) ([]DataItem, error) {
	rows, err := s.db.Query(ctx, "SELECT name, label, standard FROM registry_data_items WHERE item_id = ? ORDER BY name", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DataItem
	for rows.Next() {
		var d DataItem
		if err := rows.Scan(&d.Name, &d.Label, &d.Standard); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DomainAliases are the everyday Chinese names of the domains, as people
// type them into a search box; the search index files each resource under
// its domain's names too (searchindex.go).
var DomainAliases = map[string]string{
	"市场监管": "market", "市场": "market", "税务": "tax", "纳税": "tax", "社保": "social_security", "社会保险": "social_security",
	"公积金": "housing_fund", "不动产": "real_estate", "房产": "real_estate", "交通": "transport", "公交": "transport",
	"卫生": "health", "医疗": "health", "卫健": "health", "教育": "education", "公用事业": "utilities", "水电气": "utilities",
	"电力": "utilities", "农业": "agriculture", "环境": "environment", "生态": "environment", "文旅": "culture_tourism",
}

// PublicVersions lists the versions of a public item (no reviewer's view).
func (s *Service) PublicVersions(ctx context.Context, id int64) ([]Version, error) {
	return s.Versions(ctx, anyone, id)
}

// PublicAfter returns up to n public resources with IDs above after, in ID
// order, each with its live version's form: the DCAT export pages through
// the whole catalog with it, never holding more than a page.
func (s *Service) PublicAfter(ctx context.Context, after int64, n int) ([]Item, error) {
	rows, err := s.db.Query(ctx, "SELECT "+itemColumns+", v.fields"+itemFrom+
		" JOIN registry_versions v ON v.item_id = i.id AND v.version = i.live_version"+
		" WHERE i.live_version > 0 AND i.status <> 'cancelled' AND i.kind = 'resource' AND i.id > ? ORDER BY i.id LIMIT "+strconv.Itoa(n), after)
	if err != nil {
		return nil, fmt.Errorf("catalog export: %w", err)
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		var fields string
		it, err := scanItem(scanPlus{rows, &fields})
		if err != nil {
			return nil, fmt.Errorf("catalog export: %w", err)
		}
		it.Fields = []byte(fields)
		out = append(out, it)
	}
	return out, rows.Err()
}

// scanPlus scans an item's columns followed by more destinations.
type scanPlus struct {
	r    rowScanner
	more any
}

func (s scanPlus) Scan(dest ...any) error { return s.r.Scan(append(dest, s.more)...) }

// PublicItems returns the public items among ids, in the order of ids (a
// page of search hits, best first).
func (s *Service) PublicItems(ctx context.Context, ids []int64) ([]Item, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.db.Query(ctx, "SELECT "+itemColumns+itemFrom+" WHERE i.live_version > 0 AND i.status <> 'cancelled' AND i.id IN ("+ph+")", args...)
	if err != nil {
		return nil, fmt.Errorf("catalog items: %w", err)
	}
	defer rows.Close()
	byID := make(map[int64]Item, len(ids))
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog items: %w", err)
		}
		byID[it.ID] = it
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Item, 0, len(ids))
	for _, id := range ids {
		if it, ok := byID[id]; ok {
			out = append(out, it)
		}
	}
	return out, nil
}
