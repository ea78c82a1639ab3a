package supply

import (
	"context"
	"sort"
	"strings"

	"github.com/gongshu/gongshu/internal/pii"
)

// ItemSignature describes one data item (column) of a resource, as the
// one-source check (一数一源, R6.1) compares them.
type ItemSignature struct {
	ResourceID   int64   `json:"resource_id"`
	ResourceCode string  `json:"resource_code"`
	HolderOrgID  int64   `json:"holder_org_id"`
	Column       string  `json:"column"`
	Type         string  `json:"type"`
	Tag          pii.Tag `json:"tag"`
	// StandardCode is the data-item standard code when the department gave
	// one; items with the same code are the same item whatever their names.
	StandardCode string `json:"standard_code,omitempty"`
}

// Overlap is one data item held by more than one department.
type Overlap struct {
	Key     string          `json:"key"`
	Sources []ItemSignature `json:"sources"`
}

// SameItems reports the data items that appear in resources of different
// departments (R6.1: one data item, one source), each with every source.
// Items match by standard code, else by normalized name, type class and
// tag. Generic bookkeeping columns (id, 序号, remarks, timestamps) are not
// data items and are ignored. The result is sorted by key.
func SameItems(sigs []ItemSignature) []Overlap {
	groups := map[string][]ItemSignature{}
	for _, s := range sigs {
		k := itemKey(s)
		if k == "" {
			continue
		}
		groups[k] = append(groups[k], s)
	}
	var out []Overlap
	for k, g := range groups {
		orgs := map[int64]bool{}
		for _, s := range g {
			orgs[s.HolderOrgID] = true
		}
		if len(orgs) < 2 {
			continue
		}
		sort.Slice(g, func(i, j int) bool {
			if g[i].HolderOrgID != g[j].HolderOrgID {
				return g[i].HolderOrgID < g[j].HolderOrgID
			}
			if g[i].ResourceID != g[j].ResourceID {
				return g[i].ResourceID < g[j].ResourceID
			}
			return g[i].Column < g[j].Column
		})
		out = append(out, Overlap{Key: k, Sources: g})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func itemKey(s ItemSignature) string {
	if c := strings.TrimSpace(s.StandardCode); c != "" {
		return "std:" + strings.ToUpper(c)
	}
	n := normalizeItem(s.Column)
	if n == "" || genericItems[n] {
		return ""
	}
	tag := s.Tag
	if tag == "" {
		tag = pii.None
	}
	return n + "|" + typeClass(s.Type) + "|" + string(tag)
}

// normalizeItem lower-cases a column name, drops separators and maps the
// common synonyms of the same item to one word.
func normalizeItem(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		switch r {
		case '_', '-', ' ', '.', '（', '）', '(', ')':
			continue
		}
		b.WriteRune(r)
	}
	n := b.String()
	if s, ok := itemSynonyms[n]; ok {
		return s
	}
	return n
}

var itemSynonyms = map[string]string{
	"身份证号": "resident_id", "身份证号码": "resident_id", "公民身份号码": "resident_id", "证件号码": "resident_id",
	"idcard": "resident_id", "idno": "resident_id", "sfzh": "resident_id",
	"统一社会信用代码": "credit_code", "信用代码": "credit_code", "creditcode": "credit_code", "uscc": "credit_code",
	"姓名": "person_name", "name": "person_name", "xm": "person_name",
	"手机号": "mobile", "手机号码": "mobile", "联系电话": "mobile", "mobile": "mobile", "phone": "mobile",
	"出生日期": "birth_date", "birthdate": "birth_date", "birthday": "birth_date", "csrq": "birth_date",
	"性别": "gender", "gender": "gender", "sex": "gender", "xb": "gender",
	"企业名称": "enterprise_name", "单位名称": "enterprise_name", "enterprisename": "enterprise_name",
}

var genericItems = map[string]bool{
	"id": true, "序号": true, "编号": true, "no": true, "remark": true, "remarks": true, "备注": true,
	"createdat": true, "updatedat": true, "创建时间": true, "更新时间": true,
}

func typeClass(t string) string {
	u := strings.ToUpper(t)
	switch {
	case strings.Contains(u, "INT"):
		return "integer"
	case strings.HasPrefix(u, "DOUBLE") || strings.HasPrefix(u, "FLOAT") || strings.HasPrefix(u, "REAL") ||
		strings.HasPrefix(u, "DECIMAL") || strings.HasPrefix(u, "NUMERIC"):
		return "number"
	case strings.HasPrefix(u, "DATE") || strings.HasPrefix(u, "TIMESTAMP"):
		return "date"
	case strings.HasPrefix(u, "BOOL"):
		return "boolean"
	}
	return "text"
}

// Signatures describes the data items of a resource's latest version with
// their current tags, for SameItems.
func (s *Service) Signatures(ctx context.Context, r ResourceRef) ([]ItemSignature, error) {
	v, err := s.Latest(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	tags, err := s.Tags(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	by := make(map[string]pii.Tag, len(tags))
	for _, t := range tags {
		by[t.Column] = t.Tag
	}
	out := make([]ItemSignature, 0, len(v.Columns))
	for _, c := range v.Columns {
		out = append(out, ItemSignature{ResourceID: r.ID, ResourceCode: r.Code, HolderOrgID: r.HolderOrgID,
			Column: c.Name, Type: c.Type, Tag: by[c.Name]})
	}
	return out, nil
}
