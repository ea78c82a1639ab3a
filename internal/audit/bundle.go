package audit

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/merkle"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"
)

// BundleFormat names the export format (docs/audit-bundle.md).
const BundleFormat = "gongshu-audit-bundle/v1"

// Bundle is an offline-verifiable extract of the log: entries, each with
// its inclusion proof against one signed checkpoint.
type Bundle struct {
	Format      string `json:"format"`
	Origin      string `json:"origin"`
	Suite       Suite  `json:"suite"`
	VerifierKey string `json:"verifier_key"`
	Checkpoint  string `json:"checkpoint"`
	// Filter records how the entries were selected; absent, the bundle
	// holds every entry of the checkpoint's tree, leaf 0 to size-1.
	Filter *BundleFilter `json:"filter,omitempty"`
	// Consistency proves that the checkpoint extends an earlier tree
	// size (export --since), so a verifier holding that checkpoint can
	// check the log was not rolled back or forked since.
	Consistency *BundleConsistency `json:"consistency,omitempty"`
	Entries     []BundleEntry      `json:"entries"`
}

// BundleFilter is the selection a bundle was exported with.
type BundleFilter struct {
	OrgID int64  `json:"org_id,omitempty"` // the acting organisation
	From  string `json:"from,omitempty"`   // first instant, inclusive (UTC, TimeLayout)
	To    string `json:"to,omitempty"`     // last instant, exclusive
}

// BundleConsistency is an RFC 6962 consistency proof from tree size From
// to the bundle's checkpoint.
type BundleConsistency struct {
	From  uint64   `json:"from"`
	Proof [][]byte `json:"proof"`
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
	// Since, when not zero, adds a consistency proof from that tree size
	// to the bundle's checkpoint.
	Since uint64
}

func (f ExportFilter) record() *BundleFilter {
	if f.OrgID == 0 && f.From.IsZero() && f.To.IsZero() {
		return nil
	}
	b := &BundleFilter{OrgID: f.OrgID}
	if !f.From.IsZero() {
		b.From = storedTime(f.From).Format(TimeLayout)
	}
	if !f.To.IsZero() {
		b.To = storedTime(f.To).Format(TimeLayout)
	}
	return b
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
	if t.signer != nil {
		if _, err := t.Integrate(ctx); err != nil {
			return 0, err
		}
	}
	cp, err := t.witnessedCheckpoint(ctx)
	if err != nil {
		return 0, err
	}
	b := Bundle{Format: BundleFormat, Origin: t.origin, Suite: t.suite, VerifierKey: t.vkey, Checkpoint: cp.Note, Filter: f.record()}
	if f.Since > 0 {
		if f.Since > cp.Size {
			return 0, fmt.Errorf("audit: export: the log's latest checkpoint has %d entries, fewer than the %d asked to prove consistency from (was the log rolled back?)", cp.Size, f.Since)
		}
		b.Consistency = &BundleConsistency{From: f.Since, Proof: [][]byte{}}
		if f.Since < cp.Size {
			if b.Consistency.Proof, err = t.ConsistencyProof(ctx, f.Since, cp.Size); err != nil {
				return 0, err
			}
		}
	}
	head, err := json.Marshal(b)
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

// witnessedCheckpoint is the checkpoint a bundle is proved against: the
// newest one cosigned by every registered witness (the newest cosigned by
// any, when none is by all); the latest when no witness has cosigned yet.
// The latest checkpoint is often not cosigned yet: its witnesses answer
// within a second or so.
func (t *Tree) witnessedCheckpoint(ctx context.Context) (Checkpoint, error) {
	cs, err := t.Cosigners(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	var ids []any
	var marks []string
	for _, c := range cs {
		if IsWitnessKey(c.VerifierKey) {
			ids = append(ids, c.ID)
			marks = append(marks, "?")
		}
	}
	if len(ids) == 0 {
		return t.Latest(ctx)
	}
	q := "SELECT size FROM audit_cosignatures WHERE cosigner_id IN (" + strings.Join(marks, ", ") + ") GROUP BY size HAVING COUNT(*) >= ? ORDER BY size DESC LIMIT 1"
	var size int64
	err = t.db.QueryRow(ctx, q, append(ids, len(ids))...).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		err = t.db.QueryRow(ctx, q, append(ids, 1)...).Scan(&size)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return t.Latest(ctx)
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: cosigned checkpoint: %w", err)
	}
	return t.CheckpointAt(ctx, uint64(size))
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
	Root     []byte
	Verified int
	// Complete: the bundle is unfiltered and holds every leaf of the
	// checkpoint, so it proves the whole log, not only its entries.
	Complete bool
	Filter   *BundleFilter
	// Since is the size of the kept checkpoint consistency was proven
	// from (0: none asked).
	Since uint64
	// Witnesses names the witnesses whose cosignatures verified.
	Witnesses []WitnessCosignature
}

// VerifyOptions are what a verifier trusts besides the log's key.
type VerifyOptions struct {
	// Since is a checkpoint the verifier kept (already opened with the
	// log's key): the bundle must prove its checkpoint extends it.
	Since *Checkpoint
	// Witnesses are witness verifier keys (cosignature/v1); Quorum of
	// them (default: all) must have cosigned the checkpoint.
	Witnesses []string
	Quorum    int
	// MaxAge, when set, counts only cosignatures made within it before
	// Now: a rolled-back log can show old cosignatures, never fresh ones.
	MaxAge time.Duration
	Now    func() time.Time
}

// VerifyBundle checks a bundle trusting only vkey, the log's public key
// obtained out of band (and, in o, the witnesses' keys and a checkpoint
// kept earlier): the checkpoint's signature and cosignatures, consistency
// with the kept checkpoint, and each entry's leaf and inclusion proof
// against the checkpoint's root. Entries must come in strictly increasing
// leaf order, and an unfiltered bundle must hold every leaf. Any failure
// names what is wrong.
func VerifyBundle(r io.Reader, vkey string, o VerifyOptions) (BundleReport, error) {
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
	cp, err := OpenCheckpoint([]byte(b.Checkpoint), v, o)
	if err != nil {
		return rep, fmt.Errorf("bundle: %w", err)
	}
	rep.Origin, rep.Size, rep.Root, rep.Filter, rep.Witnesses = cp.Origin, cp.Size, cp.Root, b.Filter, cp.Witnesses
	h := suite.Hasher()
	if o.Since != nil {
		var proof [][]byte
		if b.Consistency != nil {
			if b.Consistency.From != o.Since.Size {
				return rep, fmt.Errorf("bundle: its consistency proof starts at size %d, not at the kept checkpoint's %d: export again with --since %d", b.Consistency.From, o.Since.Size, o.Since.Size)
			}
			proof = b.Consistency.Proof
		} else if o.Since.Size < cp.Size && o.Since.Size > 0 {
			return rep, fmt.Errorf("bundle: no consistency proof from the kept checkpoint (size %d): export with --since %d", o.Since.Size, o.Since.Size)
		}
		if err := VerifyConsistency(h, *o.Since, cp.Checkpoint, proof); err != nil {
			return rep, fmt.Errorf("bundle: %w", err)
		}
		rep.Since = o.Since.Size
	}
	next := uint64(0)
	for i, be := range b.Entries {
		if i > 0 && be.LeafIndex < next {
			if be.LeafIndex == next-1 {
				return rep, fmt.Errorf("bundle: entry %s (leaf %d) appears twice", be.ID, be.LeafIndex)
			}
			return rep, fmt.Errorf("bundle: entry %s (leaf %d) is out of order, after leaf %d", be.ID, be.LeafIndex, next-1)
		}
		leaf := encodeLeaf(be.fields())
		if err := proof.VerifyInclusion(h, be.LeafIndex, cp.Size, h.HashLeaf(leaf), be.Proof, cp.Root); err != nil {
			return rep, fmt.Errorf("bundle: entry %s (leaf %d) does not verify against checkpoint %d (root %x): %w", be.ID, be.LeafIndex, cp.Size, cp.Root, err)
		}
		next = be.LeafIndex + 1
		rep.Verified++
	}
	if b.Filter == nil {
		if uint64(len(b.Entries)) != cp.Size {
			return rep, fmt.Errorf("bundle: unfiltered, yet it holds %d entries of the %d in checkpoint %d: entries are missing", len(b.Entries), cp.Size, cp.Size)
		}
		rep.Complete = true
	}
	return rep, nil
}

// OpenedCheckpoint is a checkpoint opened with the log's key, with the
// witness cosignatures that verified on it.
type OpenedCheckpoint struct {
	Checkpoint
	Witnesses []WitnessCosignature
}

// WitnessCosignature is one witness's verified cosignature.
type WitnessCosignature struct {
	Name string
	At   time.Time
}

// OpenCheckpoint opens a signed checkpoint with the log's verifier, and
// with the witnesses of o when given, requiring their quorum.
func OpenCheckpoint(signed []byte, v note.Verifier, o VerifyOptions) (OpenedCheckpoint, error) {
	var out OpenedCheckpoint
	cp, err := ParseCheckpoint(signed, v)
	if err != nil {
		return out, fmt.Errorf("%w (is the key the log's public key?)", err)
	}
	if cp.Origin != v.Name() {
		return out, fmt.Errorf("checkpoint origin %q is not the key's log %q", cp.Origin, v.Name())
	}
	out.Checkpoint = cp
	if len(o.Witnesses) == 0 {
		return out, nil
	}
	quorum := o.Quorum
	if quorum <= 0 {
		quorum = len(o.Witnesses)
	}
	if quorum > len(o.Witnesses) {
		return out, fmt.Errorf("a quorum of %d needs as many witness keys, %d given", quorum, len(o.Witnesses))
	}
	vs := []note.Verifier{v}
	names := map[string]bool{}
	for _, w := range o.Witnesses {
		if !IsWitnessKey(w) {
			return out, fmt.Errorf("witness key %q is not a cosignature/v1 key", w)
		}
		wv, err := NewVerifier(w)
		if err != nil {
			return out, fmt.Errorf("witness key %q: %w", w, err)
		}
		vs = append(vs, wv)
		names[wv.Name()] = true
	}
	n, err := note.Open(signed, note.VerifierList(vs...))
	if err != nil {
		return out, fmt.Errorf("checkpoint %d: %w", cp.Size, err)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	var stale []string
	for _, s := range n.Sigs {
		if names[s.Name] {
			at, _ := CosignatureTime(s)
			if o.MaxAge > 0 && at.Before(now().Add(-o.MaxAge)) {
				stale = append(stale, fmt.Sprintf("%s (cosigned %s)", s.Name, at.Format(time.RFC3339)))
				continue
			}
			out.Witnesses = append(out.Witnesses, WitnessCosignature{Name: s.Name, At: at})
			delete(names, s.Name)
		}
	}
	if len(out.Witnesses) < quorum {
		var missing []string
		for name := range names {
			missing = append(missing, name)
		}
		sort.Strings(missing)
		msg := fmt.Sprintf("checkpoint %d (root %x) is cosigned by %d of the witnesses, %d needed: missing %s",
			cp.Size, cp.Root, len(out.Witnesses), quorum, strings.Join(missing, ", "))
		if len(stale) > 0 {
			msg += fmt.Sprintf("; older than %s: %s (is the log stuck, or rolled back to an old checkpoint?)", o.MaxAge, strings.Join(stale, ", "))
		}
		return out, errors.New(msg)
	}
	return out, nil
}

// ConsistencyError is a log that does not extend a checkpoint kept
// earlier: cut short (Rollback) or rewritten (a fork).
type ConsistencyError struct {
	Kept, Now Checkpoint
	Rollback  bool
	Err       error
}

func (e *ConsistencyError) Error() string {
	if e.Rollback {
		return fmt.Sprintf("ROLLBACK: the log's checkpoint has %d entries, fewer than the %d of the checkpoint kept earlier: entries were removed", e.Now.Size, e.Kept.Size)
	}
	if e.Now.Size == e.Kept.Size {
		return fmt.Sprintf("FORK: the log's checkpoint at size %d has root %x, the checkpoint kept earlier %x: the log was rewritten", e.Now.Size, e.Now.Root, e.Kept.Root)
	}
	return fmt.Sprintf("FORK: the log's checkpoint %d (root %x) does not extend the checkpoint kept earlier, %d (root %x): the log was rewritten (%v)",
		e.Now.Size, e.Now.Root, e.Kept.Size, e.Kept.Root, e.Err)
}

// VerifyConsistency checks that now extends kept, by the RFC 6962
// consistency proof p from kept's size to now's.
func VerifyConsistency(h merkle.LogHasher, kept, now Checkpoint, p [][]byte) error {
	switch {
	case kept.Origin != now.Origin:
		return fmt.Errorf("the kept checkpoint is of log %q, not %q", kept.Origin, now.Origin)
	case now.Size < kept.Size:
		return &ConsistencyError{Kept: kept, Now: now, Rollback: true}
	case kept.Size == 0:
		return nil
	case now.Size == kept.Size:
		if !bytes.Equal(now.Root, kept.Root) {
			return &ConsistencyError{Kept: kept, Now: now}
		}
		return nil
	}
	if err := proof.VerifyConsistency(h, kept.Size, now.Size, p, kept.Root, now.Root); err != nil {
		return &ConsistencyError{Kept: kept, Now: now, Err: err}
	}
	return nil
}
