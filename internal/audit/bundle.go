package audit

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/transparency-dev/merkle/proof"
)

// BundleFormat names the export format (docs/audit-bundle.md).
const BundleFormat = "gongshu-audit-bundle/v1"

// Bundle is an offline-verifiable extract of the log: entries, each with
// its inclusion proof against one signed checkpoint.
type Bundle struct {
	Format      string        `json:"format"`
	Origin      string        `json:"origin"`
	Suite       Suite         `json:"suite"`
	VerifierKey string        `json:"verifier_key"`
	Checkpoint  string        `json:"checkpoint"`
	Entries     []BundleEntry `json:"entries"`
}

// BundleEntry is one entry with the exact field strings of its leaf.
type BundleEntry struct {
	LeafIndex   uint64   `json:"leaf_index"`
	ID          string   `json:"id"`
	At          string   `json:"at"`
	ActorUserID string   `json:"actor_user_id"`
	ActorLogin  string   `json:"actor_login"`
	ActorOrgID  string   `json:"actor_org_id"`
	Action      string   `json:"action"`
	ObjectType  string   `json:"object_type"`
	ObjectID    string   `json:"object_id"`
	Outcome     string   `json:"outcome"`
	Reason      string   `json:"reason"`
	Details     string   `json:"details"`
	RequestID   string   `json:"request_id"`
	RemoteAddr  string   `json:"remote_addr"`
	Proof       [][]byte `json:"proof"`
}

func (b BundleEntry) fields() [13]string {
	return [13]string{b.ID, b.At, b.ActorUserID, b.ActorLogin, b.ActorOrgID, b.Action, b.ObjectType, b.ObjectID,
		b.Outcome, b.Reason, b.Details, b.RequestID, b.RemoteAddr}
}

// ExportFilter selects the entries of a bundle; zero fields do not filter.
type ExportFilter struct {
	OrgID    int64
	From, To time.Time
}

// exportPage is how many entries Export reads before proving them: the
// proofs need queries of their own, and memory stays bounded by a page.
const exportPage = 512

type exportItem struct {
	idx     uint64
	e       Entry
	details string
}

// Export writes a bundle of the integrated entries matching f, proved
// against the latest checkpoint. It streams, a page at a time, so the
// export of a whole log is never held in memory. It returns how many
// entries it wrote.
func (t *Tree) Export(ctx context.Context, w io.Writer, f ExportFilter) (int, error) {
	if _, err := t.Integrate(ctx); err != nil {
		return 0, err
	}
	cp, err := t.Latest(ctx)
	if err != nil {
		return 0, err
	}
	head, err := json.Marshal(Bundle{Format: BundleFormat, Origin: t.origin, Suite: t.suite, VerifierKey: t.vkey, Checkpoint: cp.Note})
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(w)
	// The header without its closing "entries":null}, then the entries array.
	bw.Write(head[:len(head)-len(`"entries":null}`)])
	bw.WriteString(`"entries":[`)
	n := 0
	for after := int64(-1); ; {
		items, err := t.exportPage(ctx, f, cp.Size, after)
		if err != nil {
			return n, err
		}
		for _, it := range items {
			p, err := t.InclusionProof(ctx, it.idx, cp.Size)
			if err != nil {
				return n, err
			}
			b, err := json.Marshal(bundleEntry(it.idx, it.e, it.details, p))
			if err != nil {
				return n, err
			}
			if n > 0 {
				bw.WriteByte(',')
			}
			bw.WriteByte('\n')
			bw.Write(b)
			n++
		}
		if len(items) < exportPage {
			break
		}
		after = int64(items[len(items)-1].idx)
	}
	bw.WriteString("\n]}\n")
	return n, bw.Flush()
}

func (t *Tree) exportPage(ctx context.Context, f ExportFilter, size uint64, after int64) ([]exportItem, error) {
	q := `SELECT l.leaf_index, e.id, e.at, e.actor_user_id, e.actor_login, e.actor_org_id, e.action, e.object_type,
		e.object_id, e.outcome, e.reason, e.details, e.request_id, e.remote_addr
		FROM audit_leaves l JOIN audit_entries e ON e.id = l.entry_id WHERE l.leaf_index < ? AND l.leaf_index > ?`
	args := []any{int64(size), after}
	if f.OrgID != 0 {
		q += " AND e.actor_org_id = ?"
		args = append(args, f.OrgID)
	}
	if !f.From.IsZero() {
		q += " AND e.at >= ?"
		args = append(args, storedTime(f.From))
	}
	if !f.To.IsZero() {
		q += " AND e.at < ?"
		args = append(args, storedTime(f.To))
	}
	rows, err := t.db.Query(ctx, q+" ORDER BY l.leaf_index LIMIT "+strconv.Itoa(exportPage), args...)
	if err != nil {
		return nil, fmt.Errorf("audit: export: %w", err)
	}
	defer rows.Close()
	var items []exportItem
	for rows.Next() {
		var idx int64
		var it exportItem
		var uid, oid sql.NullInt64
		var outcome string
		if err := rows.Scan(&idx, &it.e.ID, &it.e.At, &uid, &it.e.Actor.Login, &oid, &it.e.Action, &it.e.ObjectType, &it.e.ObjectID,
			&outcome, &it.e.Reason, &it.details, &it.e.RequestID, &it.e.RemoteAddr); err != nil {
			return nil, fmt.Errorf("audit: export: %w", err)
		}
		it.idx, it.e.Actor.UserID, it.e.Actor.OrgID, it.e.Outcome = uint64(idx), uid.Int64, oid.Int64, Outcome(outcome)
		items = append(items, it)
	}
	return items, rows.Err()
}

func bundleEntry(idx uint64, e Entry, details string, p [][]byte) BundleEntry {
	return BundleEntry{LeafIndex: idx, ID: strconv.FormatInt(e.ID, 10), At: e.At.UTC().Format(TimeLayout),
		ActorUserID: optionalID(e.Actor.UserID), ActorLogin: e.Actor.Login, ActorOrgID: optionalID(e.Actor.OrgID),
		Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID, Outcome: string(e.Outcome), Reason: e.Reason,
		Details: details, RequestID: e.RequestID, RemoteAddr: e.RemoteAddr, Proof: p}
}

// BundleReport is what an offline verification found.
type BundleReport struct {
	Origin   string
	Size     uint64
	Verified int
}

// VerifyBundle checks a bundle trusting only vkey, the log's public key
// obtained out of band: the checkpoint's signature, and each entry's leaf
// and inclusion proof against the checkpoint's root. It names the first
// entry that fails.
func VerifyBundle(r io.Reader, vkey string) (BundleReport, error) {
	var rep BundleReport
	v, err := NewVerifier(vkey)
	if err != nil {
		return rep, err
	}
	var b Bundle
	dec := json.NewDecoder(r)
	if err := dec.Decode(&b); err != nil {
		return rep, fmt.Errorf("bundle: not a bundle: %w", err)
	}
	if b.Format != BundleFormat {
		return rep, fmt.Errorf("bundle: format %q, want %s", b.Format, BundleFormat)
	}
	suite, err := ParseSuite(string(b.Suite))
	if err != nil {
		return rep, fmt.Errorf("bundle: %w", err)
	}
	cp, err := ParseCheckpoint([]byte(b.Checkpoint), v)
	if err != nil {
		return rep, fmt.Errorf("bundle: %w (is --key the log's public key?)", err)
	}
	if cp.Origin != v.Name() {
		return rep, fmt.Errorf("bundle: checkpoint origin %q is not the key's log %q", cp.Origin, v.Name())
	}
	rep.Origin, rep.Size = cp.Origin, cp.Size
	h := suite.Hasher()
	for _, be := range b.Entries {
		leaf := encodeLeaf(be.fields())
		if err := proof.VerifyInclusion(h, be.LeafIndex, cp.Size, h.HashLeaf(leaf), be.Proof, cp.Root); err != nil {
			return rep, fmt.Errorf("bundle: entry %s (leaf %d) does not verify against checkpoint %d: %w", be.ID, be.LeafIndex, cp.Size, err)
		}
		rep.Verified++
	}
	return rep, nil
}
