package registry

import (
	"context"
	"strings"
	"time"
	"unicode"

	"github.com/gongshu/gongshu/internal/store"
)

// Signature identifies a data item across departments (一数一源, R6.1): its
// standard code when it declares one, otherwise its normalized name and
// label, so that "ID_No" and "id no" (身份证号) from two departments meet.
func Signature(d DataItem) string {
	if s := normalize(d.Standard); s != "" {
		return "std:" + s
	}
	return "name:" + normalize(d.Name) + "|" + normalize(d.Label)
}

func normalize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// detectOverlaps flags each data item of a newly published resource that
// a resource of another department also declares, once per pair and item.
func (s *Service) detectOverlaps(ctx context.Context, tx *store.Tx, id, holder int64, now time.Time) error {
	rows, err := tx.Query(ctx, `SELECT d.name, o.item_id FROM registry_data_items d
		JOIN registry_data_items o ON o.signature = d.signature AND o.item_id <> d.item_id
		JOIN registry_items i ON i.id = o.item_id
		WHERE d.item_id = ? AND i.holder_org_id <> ? AND i.status <> 'cancelled'`, id, holder)
	if err != nil {
		return err
	}
	type hit struct {
		name  string
		other int64
	}
	var hits []hit
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.name, &h.other); err != nil {
			rows.Close()
			return err
		}
		hits = append(hits, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, h := range hits {
		a, b := h.other, id
		var exists int
		err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM registry_overlaps WHERE item_a = ? AND item_b = ? AND data_item = ?", a, b, h.name).Scan(&exists)
		if err != nil {
			return err
		}
		if exists > 0 {
			continue
		}
		if _, err := tx.Exec(ctx, "INSERT INTO registry_overlaps (item_a, item_b, data_item, basis, detected_at) VALUES (?, ?, ?, ?, ?)",
			a, b, h.name, "signature", now); err != nil {
			return err
		}
	}
	return nil
}

// Overlap is one data item registered by two departments.
type Overlap struct {
	ID         int64     `json:"id"`
	DataItem   string    `json:"data_item"`
	First      Ref       `json:"first"`
	Second     Ref       `json:"second"`
	DetectedAt time.Time `json:"detected_at"`
}

// Ref names an item and its holder.
type Ref struct {
	ID     int64  `json:"id"`
	Code   string `json:"code"`
	Name   string `json:"name"`
	Holder string `json:"holder"`
}

// Overlaps lists the unresolved one-source flags, for the authority.
func (s *Service) Overlaps(ctx context.Context) ([]Overlap, error) {
	rows, err := s.db.Query(ctx, `SELECT x.id, x.data_item, x.detected_at,
		a.id, a.code, a.name, oa.name, b.id, b.code, b.name, ob.name
		FROM registry_overlaps x
		JOIN registry_items a ON a.id = x.item_a JOIN organizations oa ON oa.id = a.holder_org_id
		JOIN registry_items b ON b.id = x.item_b JOIN organizations ob ON ob.id = b.holder_org_id
		WHERE x.resolved_at IS NULL ORDER BY x.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Overlap
	for rows.Next() {
		var o Overlap
		if err := rows.Scan(&o.ID, &o.DataItem, &o.DetectedAt, &o.First.ID, &o.First.Code, &o.First.Name, &o.First.Holder,
			&o.Second.ID, &o.Second.Code, &o.Second.Name, &o.Second.Holder); err != nil {
			return nil, err
		}
		o.DetectedAt = o.DetectedAt.UTC()
		out = append(out, o)
	}
	return out, rows.Err()
}
