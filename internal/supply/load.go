package supply

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/pii"
	"github.com/gongshu/gongshu/internal/store"
)

// Preview is what a department sees before it loads a source: the schema
// the engine would give it, the first rows, and the tags detectors propose.
type Preview struct {
	Columns   []Column       `json:"columns"`
	Rows      [][]string     `json:"rows"`
	Proposals []pii.Proposal `json:"proposals"`
}

// Preview reads the first rows of src for the resource's department to
// confirm; nothing is loaded.
func (s *Service) Preview(ctx context.Context, p identity.Principal, resourceID int64, src Source) (Preview, error) {
	if _, err := s.resource(ctx, p, ActionPreview, resourceID); err != nil {
		return Preview{}, err
	}
	cols, rows, err := s.eng.Infer(ctx, src, PreviewRows)
	if err != nil {
		// A source that cannot be read is refused, and the refusal audited
		// like every other (issue 15, finding 7).
		e := entry(p, ActionPreview, resourceID)
		e.Set("source", sourceName(src))
		e.Set("error", err.Error())
		return Preview{}, s.log.Refuse(ctx, e, apperr.New(apperr.Invalid, "supply.source_unreadable", "source", sourceName(src)).Wrap(err))
	}
	pv := Preview{Columns: cols, Rows: rows}
	for i, c := range cols {
		vals := make([]string, len(rows))
		for j, r := range rows {
			if i < len(r) {
				vals[j] = r[i]
			}
		}
		pv.Proposals = append(pv.Proposals, pii.Detect(c.Name, vals))
	}
	return pv, nil
}

func sourceName(src Source) string {
	if src.Format == Postgres {
		return src.Table
	}
	return baseName(src.Path)
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' || p[i] == '\\' {
			return p[i+1:]
		}
	}
	return p
}

// Version is one load of a resource's data: an immutable domain table.
type Version struct {
	ID         int64     `json:"id"`
	ResourceID int64     `json:"resource_id"`
	Version    int       `json:"version"`
	Table      string    `json:"table"`
	Source     string    `json:"source"`
	Format     Format    `json:"format"`
	Rows       int64     `json:"rows"`
	Bytes      int64     `json:"bytes"`
	SHA256     string    `json:"sha256"`
	Columns    []Column  `json:"columns"`
	LoadedBy   int64     `json:"loaded_by"`
	LoadedByAs string    `json:"loaded_by_login"`
	LoadedAt   time.Time `json:"loaded_at"`
}

// TableName is the domain table of a resource's version.
func TableName(resourceID int64, version int) string {
	return fmt.Sprintf("r%d_v%d", resourceID, version)
}

// Load brings src into the domain as the resource's next version, profiles
// it and proposes column tags. The data-plane table is created first; the
// control-plane rows (version, profiles, proposals) are committed only once
// it exists, and if that commit fails the table is dropped. Every load and
// every failure is audited with rows, bytes and the source's hash.
// Core data (核心数据) never enters authorized operation and is refused.
func (s *Service) Load(ctx context.Context, p identity.Principal, resourceID int64, src Source, progress func(bytes, rows int64)) (Version, error) {
	r, err := s.resource(ctx, p, ActionLoad, resourceID)
	if err != nil {
		return Version{}, err
	}
	e := entry(p, ActionLoad, resourceID)
	e.Set("source", sourceName(src))
	e.Set("format", string(src.Format))
	if gradeClass(r.Grade) == "core" {
		return Version{}, s.log.Refuse(ctx, e, apperr.New(apperr.Forbidden, "supply.core_grade", "resource", r.Code))
	}
	var prev int
	if err := s.db.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM supply_versions WHERE resource_id = ?", resourceID).Scan(&prev); err != nil {
		return Version{}, s.log.Refuse(ctx, e, fmt.Errorf("next version of resource %d: %w", resourceID, err))
	}
	v := Version{ResourceID: resourceID, Version: prev + 1, Table: TableName(resourceID, prev+1),
		Source: sourceName(src), Format: src.Format, LoadedBy: p.UserID, LoadedByAs: p.Login, LoadedAt: s.clock()}
	e.Set("version", v.Version)
	e.Set("table", v.Table)
	loaded, err := s.eng.Load(ctx, v.Table, src, progress)
	if err != nil {
		e.Set("rows", 0)
		if loaded.SHA256 != "" {
			e.Set("bytes", loaded.Bytes)
			e.Set("sha256", loaded.SHA256)
		}
		if ctx.Err() != nil {
			return Version{}, s.log.Refuse(ctx, e, fmt.Errorf("load %s: %w", v.Table, err))
		}
		return Version{}, s.log.Refuse(ctx, e, apperr.New(apperr.Invalid, "supply.load_failed", "source", v.Source).Wrap(err))
	}
	v.Rows, v.Bytes, v.SHA256, v.Columns = loaded.Rows, loaded.Bytes, loaded.SHA256, loaded.Columns
	e.Set("rows", v.Rows)
	e.Set("bytes", v.Bytes)
	e.Set("sha256", v.SHA256)
	profiles, proposals, err := s.describe(ctx, resourceID, v.Table)
	if err == nil {
		err = s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
			if err := s.insertVersion(ctx, tx, &v, profiles); err != nil {
				return err
			}
			n, err := s.recordProposals(ctx, tx, resourceID, proposals)
			e.Set("proposed_tags", n)
			return err
		})
	} else {
		err = s.log.Refuse(ctx, e, err)
	}
	if err != nil {
		// The version was not recorded: its table must not stay behind.
		if derr := s.eng.Drop(context.WithoutCancel(ctx), v.Table); derr != nil {
			err = errors.Join(err, derr)
		}
		return Version{}, err
	}
	for _, fn := range s.afterLoad {
		fn(ctx, p, v)
	}
	return v, nil
}

// describe samples a loaded table for the detectors, then profiles it
// without top values for columns tagged (or now proposed) as anything but
// none: identifying and sensitive columns get counts, never values.
func (s *Service) describe(ctx context.Context, resourceID int64, table string) ([]ColumnProfile, []pii.Proposal, error) {
	sample, err := s.eng.Sample(ctx, table, SampleRows)
	if err != nil {
		return nil, nil, err
	}
	current, err := s.Tags(ctx, resourceID)
	if err != nil {
		return nil, nil, err
	}
	skip := map[string]bool{}
	for _, t := range current {
		if t.Tag != pii.None {
			skip[t.Column] = true
		}
	}
	proposals := make([]pii.Proposal, 0, len(sample))
	for col, vals := range sample {
		pr := pii.Detect(col, vals)
		proposals = append(proposals, pr)
		if pr.Tag != pii.None {
			skip[col] = true
		}
	}
	profiles, err := s.eng.Profile(ctx, table, skip)
	if err != nil {
		return nil, nil, err
	}
	return profiles, sortProposals(proposals, profiles), nil
}

// sortProposals orders proposals like the table's columns.
func sortProposals(ps []pii.Proposal, profiles []ColumnProfile) []pii.Proposal {
	by := make(map[string]pii.Proposal, len(ps))
	for _, p := range ps {
		by[p.Column] = p
	}
	out := make([]pii.Proposal, 0, len(ps))
	for _, c := range profiles {
		if p, ok := by[c.Name]; ok {
			out = append(out, p)
		}
	}
	return out
}

func (s *Service) insertVersion(ctx context.Context, tx *store.Tx, v *Version, profiles []ColumnProfile) error {
	schema, err := json.Marshal(v.Columns)
	if err != nil {
		return err
	}
	v.ID, err = tx.InsertID(ctx, `INSERT INTO supply_versions (resource_id, version, table_name, source_name, format,
		row_count, byte_count, sha256, schema_json, loaded_by, loaded_by_login, loaded_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ResourceID, v.Version, v.Table, v.Source, string(v.Format), v.Rows, v.Bytes, v.SHA256, string(schema),
		v.LoadedBy, v.LoadedByAs, v.LoadedAt)
	if err != nil {
		return fmt.Errorf("record version %s: %w", v.Table, err)
	}
	for i, p := range profiles {
		top, err := json.Marshal(p.Top)
		if err != nil {
			return err
		}
		if p.Top == nil {
			top = []byte("[]")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO supply_column_profiles (version_id, position, column_name, column_type,
			row_count, null_count, distinct_estimate, min_value, max_value, top_values) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			v.ID, i, p.Name, p.Type, p.Rows, p.Nulls, p.Distinct, p.Min, p.Max, string(top)); err != nil {
			return fmt.Errorf("record profile of %s.%s: %w", v.Table, p.Name, err)
		}
	}
	return nil
}

const versionColumns = `id, resource_id, version, table_name, source_name, format, row_count, byte_count, sha256,
	schema_json, loaded_by, loaded_by_login, loaded_at`

func scanVersion(sc func(...any) error) (Version, error) {
	var v Version
	var format, schema string
	if err := sc(&v.ID, &v.ResourceID, &v.Version, &v.Table, &v.Source, &format, &v.Rows, &v.Bytes, &v.SHA256,
		&schema, &v.LoadedBy, &v.LoadedByAs, &v.LoadedAt); err != nil {
		return Version{}, err
	}
	v.Format = Format(format)
	v.LoadedAt = v.LoadedAt.UTC()
	if err := json.Unmarshal([]byte(schema), &v.Columns); err != nil {
		return Version{}, fmt.Errorf("version %s schema: %w", v.Table, err)
	}
	return v, nil
}

// Versions lists a resource's loaded versions, oldest first.
func (s *Service) Versions(ctx context.Context, resourceID int64) ([]Version, error) {
	rows, err := s.db.Query(ctx, "SELECT "+versionColumns+" FROM supply_versions WHERE resource_id = ? ORDER BY version", resourceID)
	if err != nil {
		return nil, fmt.Errorf("versions of resource %d: %w", resourceID, err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v, err := scanVersion(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Latest returns the resource's newest version, or a NotFound error.
func (s *Service) Latest(ctx context.Context, resourceID int64) (Version, error) {
	v, err := scanVersion(s.db.QueryRow(ctx, "SELECT "+versionColumns+
		" FROM supply_versions WHERE resource_id = ? ORDER BY version DESC LIMIT 1", resourceID).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return Version{}, apperr.New(apperr.NotFound, "supply.no_version")
	}
	return v, err
}

// Profiles returns the column profiles recorded for a version.
func (s *Service) Profiles(ctx context.Context, versionID int64) ([]ColumnProfile, error) {
	rows, err := s.db.Query(ctx, `SELECT column_name, column_type, row_count, null_count, distinct_estimate,
		min_value, max_value, top_values FROM supply_column_profiles WHERE version_id = ? ORDER BY position`, versionID)
	if err != nil {
		return nil, fmt.Errorf("profiles of version %d: %w", versionID, err)
	}
	defer rows.Close()
	var out []ColumnProfile
	for rows.Next() {
		var p ColumnProfile
		var top string
		if err := rows.Scan(&p.Name, &p.Type, &p.Rows, &p.Nulls, &p.Distinct, &p.Min, &p.Max, &top); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(top), &p.Top); err != nil {
			return nil, err
		}
		if len(p.Top) == 0 {
			p.Top = nil
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
