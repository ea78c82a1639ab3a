package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/store"
)

// ActionAcknowledge acknowledges an integrity alarm.
const ActionAcknowledge = "audit.acknowledge"

// allowedWhileSealed are the only actions recorded while an alarm stops
// writes: what an administrator needs to sign in and acknowledge it.
var allowedWhileSealed = map[string]bool{ActionAcknowledge: true, "session.login": true, "session.logout": true}

// Problems a check can find, as stable codes (the console translates them).
const (
	ProblemEntryChanged   = "entry_changed"   // the entry no longer hashes to its leaf
	ProblemEntryMissing   = "entry_missing"   // a leaf's entry is gone
	ProblemEntryInserted  = "entry_inserted"  // an entry appeared behind the integrated ones
	ProblemOrder          = "order_changed"   // leaves no longer follow entry order
	ProblemLeafChanged    = "leaf_changed"    // a leaf hash was changed (with its entry): it breaks its chain link
	ProblemLeafMissing    = "leaf_missing"    // leaves are gone from inside the tree
	ProblemSubtreeChanged = "subtree_changed" // a stored tree node no longer matches what is below it
	ProblemRootMismatch   = "root_mismatch"   // the stored tree does not match the signed checkpoint
	ProblemBadCheckpoint  = "bad_checkpoint"  // the latest checkpoint's signature does not verify
	ProblemCheckpointSize = "checkpoint_size" // the checkpoint claims more leaves than stored
	ProblemStoreBehind    = "store_behind"    // the store is behind the checkpoint kept outside it (a rollback)
	ProblemStoreForked    = "store_forked"    // the store's tree differs from the kept checkpoint (a fork)
	ProblemMoreFindings   = "more_findings"   // findings beyond those stored one by one
)

// Finding is one thing a check found wrong, named as precisely as the
// evidence allows: one entry or leaf, or a range of leaves when a rewrite
// leaves nothing finer to go on.
type Finding struct {
	Problem string `json:"problem"`
	// LeafIndex is the first leaf concerned (-1 for an entry that has
	// none); LeafCount how many leaves from it (0 when not about leaves).
	LeafIndex int64 `json:"leaf_index"`
	LeafCount int64 `json:"leaf_count,omitempty"`
	EntryID   int64 `json:"entry_id,omitempty"`
	// Size is the checkpoint concerned, for checkpoint and root findings.
	Size uint64 `json:"checkpoint_size,omitempty"`
	// Digest is what the store holds now (hex), so that a further change
	// to the same entry or leaf is a new finding, not the acknowledged one.
	Digest string `json:"digest,omitempty"`
}

// key identifies a finding among the findings of stored alarms.
func (f Finding) key() string {
	return fmt.Sprintf("%s|%d|%d|%d|%d|%s", f.Problem, f.LeafIndex, f.LeafCount, f.EntryID, f.Size, f.Digest)
}

// String describes a finding for a terminal or a log, in English.
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.Problem)
	if f.EntryID != 0 {
		fmt.Fprintf(&b, " entry %d", f.EntryID)
	}
	switch {
	case f.LeafCount > 1:
		fmt.Fprintf(&b, " leaves %d-%d (%d)", f.LeafIndex, f.LeafIndex+f.LeafCount-1, f.LeafCount)
	case f.LeafIndex >= 0 && f.LeafCount == 1:
		fmt.Fprintf(&b, " leaf %d", f.LeafIndex)
	}
	if f.Size != 0 {
		fmt.Fprintf(&b, " checkpoint %d", f.Size)
	}
	if f.Digest != "" {
		fmt.Fprintf(&b, " (now %s)", f.Digest)
	}
	return b.String()
}

// maxFindings is how many findings an alarm stores one by one; those
// beyond are counted and digested together, so a mass rewrite neither
// exhausts memory nor goes uncounted.
const maxFindings = 10000

// ShownFindings is how many findings a check result or an alarm carries.
const ShownFindings = 100

// findingSet collects findings in the order found.
type findingSet struct {
	list  []Finding
	total int64
	over  hash.Hash // digest of the keys of findings beyond list
}

func newFindingSet(fs ...Finding) *findingSet {
	s := &findingSet{}
	for _, f := range fs {
		s.add(f)
	}
	return s
}

func (s *findingSet) add(f Finding) {
	s.total++
	if len(s.list) < maxFindings {
		s.list = append(s.list, f)
		return
	}
	if s.over == nil {
		s.over = sha256.New()
	}
	s.over.Write([]byte(f.key() + "\n"))
}

func (s *findingSet) overflow() string {
	if s.over == nil {
		return ""
	}
	return hex.EncodeToString(s.over.Sum(nil))
}

// Alarm is an integrity failure: the findings of one check that no earlier
// alarm covered. Problem, EntryID and LeafIndex repeat its first finding.
type Alarm struct {
	ID          int64     `json:"id"`
	DetectedAt  time.Time `json:"detected_at"`
	EntryID     int64     `json:"entry_id"`
	LeafIndex   int64     `json:"leaf_index"`
	Problem     string    `json:"problem"`
	Total       int64     `json:"findings_total"`
	Findings    []Finding `json:"findings"` // the first ShownFindings
	AckedBy     string    `json:"acknowledged_by,omitempty"`
	AckedAt     time.Time `json:"acknowledged_at,omitzero"`
	Acknowledge string    `json:"acknowledgement,omitempty"`
	// rollback marks the alarm of a store behind or forked from the kept
	// checkpoint: not acknowledgeable, the store must be restored.
	rollback bool
}

// Rollback reports an alarm that only restoring the store clears.
func (a *Alarm) Rollback() bool {
	return a.rollback || a.Problem == ProblemStoreBehind || a.Problem == ProblemStoreForked
}

// CheckResult reports a full verification.
type CheckResult struct {
	Entries  uint64        `json:"entries"`
	Size     uint64        `json:"checkpoint_size"`
	Duration time.Duration `json:"duration_ns"`
	// Total counts every finding; Findings holds the first ShownFindings.
	Total    int64     `json:"findings_total"`
	Findings []Finding `json:"findings,omitempty"`
	// Alarm is the new alarm the findings raised, or the newest earlier
	// one covering them (acknowledged or not).
	Alarm *Alarm `json:"alarm,omitempty"`
}

// Check verifies the whole log: every entry against its leaf, every leaf
// against its chain link, every stored node against what is below it,
// entry order, entries slipped in below the integrated ones, the tree
// against the latest signed checkpoint, and the store against the
// checkpoint kept outside it. It reports every finding (a bounded list and
// a total), not only the first.
//
// Findings no recorded alarm covers raise a new alarm, which covers
// exactly them and seals the log against writes until acknowledged; an
// acknowledged finding seen again does not seal, and checking goes on past
// it, so any new tampering raises a new alarm. A store behind or forked
// from the kept checkpoint is also returned as a *RollbackError: the
// platform refuses to start on it.
func (t *Tree) Check(ctx context.Context) (CheckResult, error) {
	start := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	res, fs, rb, err := t.verify(ctx)
	res.Duration = time.Since(start)
	if err != nil {
		return res, err
	}
	res.Total = fs.total
	res.Findings = fs.list[:min(len(fs.list), ShownFindings):min(len(fs.list), ShownFindings)]
	if rb != nil {
		t.rollback = rb
		res.Total++
		res.Findings = append([]Finding{rb.finding()}, res.Findings...)[:min(len(res.Findings)+1, ShownFindings)]
	}
	if fs.total > 0 {
		alarm, err := t.raise(ctx, fs)
		if err != nil {
			return res, err
		}
		res.Alarm = alarm
		if alarm.AckedAt.IsZero() {
			t.log.sealed.Store(alarm)
		}
	}
	if rb != nil {
		alarm, err := t.raise(ctx, newFindingSet(rb.finding()))
		if err != nil {
			return res, errors.Join(rb, err)
		}
		alarm.rollback = true
		res.Alarm = alarm
		t.log.sealed.Store(alarm)
		return res, rb
	}
	return res, nil
}

// checkPage is how many leaves the check reads at a time (a multiple of
// the 16 leaves under a stored node).
const checkPage = 4096

// groupLeaves is how many leaves a node of the lowest stored level covers.
const groupLeaves = 1 << nodeStride

// leafScan is the state of the check's pass over the leaves.
type leafScan struct {
	t         *Tree
	fs        *findingSet
	size      int64
	prevEntry int64
	prevChain []byte
	chainSeen bool // a leaf with a chain link was seen: links may no longer be absent
	chainGap  bool // the previous leaf is missing: its link is unknown
	gapStart  int64
	inGap     bool
	// bad holds the groups (nodes of the lowest stored level) whose
	// stored node did not match or whose leaves were changed or missing.
	bad map[int64]bool
}

// verify runs the check's passes; it returns the findings and, separately,
// a rollback against the kept checkpoint.
func (t *Tree) verify(ctx context.Context) (CheckResult, *findingSet, *RollbackError, error) {
	var res CheckResult
	fs := &findingSet{}
	var size int64
	var lastEntry sql.NullInt64
	if err := t.db.QueryRow(ctx, "SELECT COALESCE(MAX(leaf_index) + 1, 0), MAX(entry_id) FROM audit_leaves").Scan(&size, &lastEntry); err != nil {
		return res, nil, nil, fmt.Errorf("audit: check: %w", err)
	}
	sc := &leafScan{t: t, fs: fs, size: size, bad: map[int64]bool{}}
	for lo := int64(0); lo < size; lo += checkPage {
		n, err := sc.page(ctx, lo, min(lo+checkPage, size))
		if err != nil {
			return res, nil, nil, fmt.Errorf("audit: check: %w", err)
		}
		res.Entries += uint64(n)
	}
	sc.endGap(size)
	if err := t.checkNodes(ctx, fs, size, sc.bad); err != nil {
		return res, nil, nil, fmt.Errorf("audit: check: %w", err)
	}
	if err := t.checkInserted(ctx, fs, lastEntry.Int64); err != nil {
		return res, nil, nil, fmt.Errorf("audit: check: %w", err)
	}
	cpSize, err := t.checkRoot(ctx, fs, uint64(size))
	if err != nil {
		return res, nil, nil, fmt.Errorf("audit: check: %w", err)
	}
	res.Size = cpSize
	return res, fs, t.checkKept(ctx, uint64(size)), nil
}

// page checks the leaves [lo, hi) with their entries, chain links and the
// stored nodes over complete groups of them. It returns how many leaves
// it found.
func (sc *leafScan) page(ctx context.Context, lo, hi int64) (int, error) {
	t := sc.t
	type row struct {
		idx, entryID int64
		hash, chain  []byte
		e            *Entry
		details      string
	}
	rows, err := t.db.Query(ctx, `SELECT l.leaf_index, l.entry_id, l.hash, l.chain, e.id, e.at, e.actor_user_id, e.actor_login,
		e.actor_org_id, e.action, e.object_type, e.object_id, e.outcome, e.reason, e.details, e.request_id, e.remote_addr
		FROM audit_leaves l LEFT JOIN audit_entries e ON e.id = l.entry_id
		WHERE l.leaf_index >= ? AND l.leaf_index < ? ORDER BY l.leaf_index`, lo, hi)
	if err != nil {
		return 0, err
	}
	var page []row
	for rows.Next() {
		var r row
		var eid, uid, oid sql.NullInt64
		var at sql.NullTime
		var login, action, otype, objID, outcome, reason, details, reqID, remote sql.NullString
		if err := rows.Scan(&r.idx, &r.entryID, &r.hash, &r.chain, &eid, &at, &uid, &login, &oid, &action, &otype, &objID,
			&outcome, &reason, &details, &reqID, &remote); err != nil {
			rows.Close()
			return 0, err
		}
		if eid.Valid {
			r.e = &Entry{ID: eid.Int64, At: at.Time, Actor: Actor{UserID: uid.Int64, Login: login.String, OrgID: oid.Int64},
				Action: action.String, ObjectType: otype.String, ObjectID: objID.String, Outcome: Outcome(outcome.String),
				Reason: reason.String, RequestID: reqID.String, RemoteAddr: remote.String}
			r.details = details.String
		}
		page = append(page, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	nodes := map[int64][]byte{}
	nrows, err := t.db.Query(ctx, "SELECT idx, hash FROM audit_nodes WHERE level = ? AND idx >= ? AND idx < ?", nodeStride, lo/groupLeaves, hi/groupLeaves)
	if err != nil {
		return 0, err
	}
	for nrows.Next() {
		var idx int64
		var h []byte
		if err := nrows.Scan(&idx, &h); err != nil {
			nrows.Close()
			return 0, err
		}
		nodes[idx] = h
	}
	nrows.Close()
	if err := nrows.Err(); err != nil {
		return 0, err
	}

	var group [groupLeaves][]byte
	present := 0
	next := 0
	for i := lo; i < hi; i++ {
		if i%groupLeaves == 0 {
			group, present = [groupLeaves][]byte{}, 0
		}
		var r *row
		if next < len(page) && page[next].idx == i {
			r = &page[next]
			next++
		}
		if r == nil {
			if !sc.inGap {
				sc.inGap, sc.gapStart = true, i
			}
			sc.bad[i/groupLeaves] = true
			sc.chainGap = true
		} else {
			sc.endGap(i)
			sc.leaf(r.idx, r.entryID, r.hash, r.chain, r.e, r.details)
			group[i%groupLeaves] = r.hash
			present++
		}
		if i%groupLeaves == groupLeaves-1 {
			sc.group(i/groupLeaves, group, present, nodes)
		}
	}
	return len(page), nil
}

// leaf checks one leaf: entry order, its entry, and its chain link.
func (sc *leafScan) leaf(idx, entryID int64, stored, chain []byte, e *Entry, details string) {
	t, fs := sc.t, sc.fs
	if entryID <= sc.prevEntry {
		fs.add(Finding{Problem: ProblemOrder, LeafIndex: idx, LeafCount: 1, EntryID: entryID, Digest: hex.EncodeToString(stored)})
	}
	sc.prevEntry = entryID
	switch {
	case e == nil:
		fs.add(Finding{Problem: ProblemEntryMissing, LeafIndex: idx, LeafCount: 1, EntryID: entryID})
	default:
		if now := t.hasher.HashLeaf(LeafBytes(*e, details)); !bytes.Equal(now, stored) {
			fs.add(Finding{Problem: ProblemEntryChanged, LeafIndex: idx, LeafCount: 1, EntryID: entryID, Digest: hex.EncodeToString(now)})
		}
	}
	switch {
	case chain == nil && sc.chainSeen:
		// A link removed: the leaf can no longer be tied to its place.
		fs.add(Finding{Problem: ProblemLeafChanged, LeafIndex: idx, LeafCount: 1, EntryID: entryID, Digest: hex.EncodeToString(stored)})
		sc.bad[idx/groupLeaves] = true
	case chain != nil && !sc.chainGap && !bytes.Equal(chain, t.suite.chainLink(sc.prevChain, stored)):
		fs.add(Finding{Problem: ProblemLeafChanged, LeafIndex: idx, LeafCount: 1, EntryID: entryID, Digest: hex.EncodeToString(stored)})
		sc.bad[idx/groupLeaves] = true
	}
	if chain != nil {
		sc.chainSeen = true
	}
	sc.prevChain, sc.chainGap = chain, false
}

// endGap names a run of missing leaves once a leaf is found again (or the
// tree ends).
func (sc *leafScan) endGap(i int64) {
	if sc.inGap {
		sc.fs.add(Finding{Problem: ProblemLeafMissing, LeafIndex: sc.gapStart, LeafCount: i - sc.gapStart})
		sc.inGap = false
	}
}

// group checks the stored node over a complete group of leaves.
func (sc *leafScan) group(g int64, leaves [groupLeaves][]byte, present int, nodes map[int64][]byte) {
	node, ok := nodes[g]
	if !ok {
		sc.fs.add(Finding{Problem: ProblemSubtreeChanged, LeafIndex: g * groupLeaves, LeafCount: groupLeaves, Digest: "missing"})
		sc.bad[g] = true
		return
	}
	if present < groupLeaves {
		return // named as missing leaves
	}
	if !bytes.Equal(sc.t.fold(leaves[:]), node) {
		if !sc.bad[g] {
			sc.fs.add(Finding{Problem: ProblemSubtreeChanged, LeafIndex: g * groupLeaves, LeafCount: groupLeaves, Digest: hex.EncodeToString(node)})
		}
		sc.bad[g] = true
	}
}

// fold hashes a complete subtree of 2^k hashes up to its root.
func (t *Tree) fold(level [][]byte) []byte {
	for len(level) > 1 {
		next := make([][]byte, 0, len(level)/2)
		for j := 0; j < len(level); j += 2 {
			next = append(next, t.hasher.HashChildren(level[j], level[j+1]))
		}
		level = next
	}
	return level[0]
}

// checkNodes checks each stored node above the lowest stored level against
// the sixteen stored nodes below it. A mismatch under which a node already
// failed is that node's doing and is not named twice.
func (t *Tree) checkNodes(ctx context.Context, fs *findingSet, size int64, bad map[int64]bool) error {
	const parentsPage = 256
	for level := 2 * nodeStride; size>>level > 0; level += nodeStride {
		parents := size >> level
		badUp := map[int64]bool{}
		for p0 := int64(0); p0 < parents; p0 += parentsPage {
			p1 := min(p0+parentsPage, parents)
			below, err := t.levelHashes(ctx, level-nodeStride, p0*groupLeaves, p1*groupLeaves)
			if err != nil {
				return err
			}
			above, err := t.levelHashes(ctx, level, p0, p1)
			if err != nil {
				return err
			}
			for p := p0; p < p1; p++ {
				leaves := int64(1) << level
				f := Finding{Problem: ProblemSubtreeChanged, LeafIndex: p * leaves, LeafCount: leaves}
				childBad := false
				var kids [groupLeaves][]byte
				for k := int64(0); k < groupLeaves; k++ {
					c := p*groupLeaves + k
					childBad = childBad || bad[c]
					kids[k] = below[c]
					if kids[k] == nil {
						childBad = true
					}
				}
				node, ok := above[p]
				switch {
				case !ok:
					f.Digest = "missing"
					fs.add(f)
					badUp[p] = true
				case childBad:
					badUp[p] = true
				case !bytes.Equal(t.fold(kids[:]), node):
					f.Digest = hex.EncodeToString(node)
					fs.add(f)
					badUp[p] = true
				}
			}
		}
		bad = badUp
	}
	return nil
}

// levelHashes reads the stored nodes of a level with index in [lo, hi).
func (t *Tree) levelHashes(ctx context.Context, level int, lo, hi int64) (map[int64][]byte, error) {
	rows, err := t.db.Query(ctx, "SELECT idx, hash FROM audit_nodes WHERE level = ? AND idx >= ? AND idx < ?", level, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]byte{}
	for rows.Next() {
		var idx int64
		var h []byte
		if err := rows.Scan(&idx, &h); err != nil {
			return nil, err
		}
		out[idx] = h
	}
	return out, rows.Err()
}

// checkInserted names every entry slipped in below the integrated ones
// (an entry without a leaf whose ID is below the last integrated entry).
func (t *Tree) checkInserted(ctx context.Context, fs *findingSet, lastEntry int64) error {
	rows, err := t.db.Query(ctx, `SELECT `+entryColumns+` FROM audit_entries e WHERE e.id <= ?
		AND NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.entry_id = e.id) ORDER BY e.id`, lastEntry)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, details, err := scanLeafEntry(rows)
		if err != nil {
			return err
		}
		fs.add(Finding{Problem: ProblemEntryInserted, LeafIndex: -1, EntryID: e.ID,
			Digest: hex.EncodeToString(t.hasher.HashLeaf(LeafBytes(e, details)))})
	}
	return rows.Err()
}

// checkRoot checks the stored tree against the latest signed checkpoint,
// and on a mismatch narrows down, over the earlier checkpoints, where the
// tree stopped matching. It returns the checkpoint's size.
func (t *Tree) checkRoot(ctx context.Context, fs *findingSet, size uint64) (uint64, error) {
	var cpSize int64
	var text string
	err := t.db.QueryRow(ctx, "SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1").Scan(&cpSize, &text)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	cp, err := ParseCheckpoint([]byte(text), t.verifier)
	if err != nil || cp.Size != uint64(cpSize) || cp.Origin != t.origin {
		sum := sha256.Sum256([]byte(text))
		fs.add(Finding{Problem: ProblemBadCheckpoint, LeafIndex: -1, Size: uint64(cpSize), Digest: hex.EncodeToString(sum[:])})
		return uint64(cpSize), nil
	}
	if cp.Size > size {
		fs.add(Finding{Problem: ProblemCheckpointSize, LeafIndex: int64(size), LeafCount: int64(cp.Size - size), Size: cp.Size})
		return cp.Size, nil
	}
	root, err := t.rootAt(ctx, cp.Size)
	if err == nil && bytes.Equal(root, cp.Root) {
		return cp.Size, nil
	}
	good, firstBad, err := t.localize(ctx, cp.Size)
	if err != nil {
		return cp.Size, err
	}
	digest := "unreadable"
	if root != nil {
		digest = hex.EncodeToString(root)
	}
	fs.add(Finding{Problem: ProblemRootMismatch, LeafIndex: int64(good), LeafCount: int64(firstBad - good), Size: cp.Size, Digest: digest})
	return cp.Size, nil
}

// localize finds, among the stored checkpoints below bad, the last whose
// root the stored tree still reproduces and the first it does not: the
// rewritten leaves lie between them. (Their roots are read as stored, not
// verified: they only narrow down a mismatch the signed checkpoint proved.)
func (t *Tree) localize(ctx context.Context, bad uint64) (good, firstBad uint64, err error) {
	rows, err := t.db.Query(ctx, "SELECT size FROM audit_checkpoints WHERE size < ? ORDER BY size", int64(bad))
	if err != nil {
		return 0, 0, err
	}
	var sizes []uint64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return 0, 0, err
		}
		sizes = append(sizes, uint64(s))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	matches := func(s uint64) bool {
		var root []byte
		if err := t.db.QueryRow(ctx, "SELECT root FROM audit_checkpoints WHERE size = ?", int64(s)).Scan(&root); err != nil {
			return false
		}
		now, err := t.rootAt(ctx, s)
		return err == nil && bytes.Equal(now, root)
	}
	// The first checkpoint the tree no longer matches.
	i := sort.Search(len(sizes), func(i int) bool { return !matches(sizes[i]) })
	firstBad = bad
	if i < len(sizes) {
		firstBad = sizes[i]
	}
	if i > 0 {
		good = sizes[i-1]
	}
	return good, firstBad, nil
}

// raise records the findings that no stored alarm covers as a new alarm
// and returns it; when every finding is covered it returns the newest
// covering alarm still unacknowledged, or else the newest covering one.
func (t *Tree) raise(ctx context.Context, fs *findingSet) (*Alarm, error) {
	known := map[string]int64{}
	rows, err := t.db.Query(ctx, "SELECT alarm_id, problem, leaf_index, leaf_count, entry_id, size, digest FROM audit_alarm_findings")
	if err != nil {
		return nil, fmt.Errorf("audit: read alarm findings: %w", err)
	}
	for rows.Next() {
		var id, size int64
		var f Finding
		if err := rows.Scan(&id, &f.Problem, &f.LeafIndex, &f.LeafCount, &f.EntryID, &size, &f.Digest); err != nil {
			rows.Close()
			return nil, err
		}
		f.Size = uint64(size)
		known[f.key()] = max(known[f.key()], id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	covering := map[int64]bool{}
	var uncovered []Finding
	for _, f := range fs.list {
		if id, ok := known[f.key()]; ok {
			covering[id] = true
		} else {
			uncovered = append(uncovered, f)
		}
	}
	overflow := fs.overflow()
	overUncovered := false
	if overflow != "" {
		var id int64
		err := t.db.QueryRow(ctx, "SELECT id FROM audit_alarms WHERE overflow = ? ORDER BY id DESC LIMIT 1", overflow).Scan(&id)
		switch {
		case err == nil:
			covering[id] = true
		case errors.Is(err, sql.ErrNoRows):
			overUncovered = true
		default:
			return nil, err
		}
	}
	if len(uncovered) == 0 && !overUncovered {
		var newest, newestOpen int64
		for id := range covering {
			a, err := t.alarmByID(ctx, id)
			if err != nil {
				return nil, err
			}
			newest = max(newest, id)
			if a.AckedAt.IsZero() {
				newestOpen = max(newestOpen, id)
			}
		}
		if newestOpen != 0 {
			newest = newestOpen
		}
		a, err := t.alarmByID(ctx, newest)
		return &a, err
	}
	a := Alarm{DetectedAt: storedTime(t.now()), Total: int64(len(uncovered))}
	if overUncovered {
		a.Total += fs.total - int64(len(fs.list))
	} else {
		overflow = ""
	}
	first := Finding{Problem: ProblemMoreFindings, LeafIndex: -1}
	if len(uncovered) > 0 {
		first = uncovered[0]
	}
	a.Problem, a.EntryID, a.LeafIndex = first.Problem, first.EntryID, first.LeafIndex
	err = t.db.InTx(ctx, func(tx *store.Tx) error {
		id, err := tx.InsertID(ctx, "INSERT INTO audit_alarms (detected_at, entry_id, leaf_index, problem, total, overflow) VALUES (?, ?, ?, ?, ?, ?)",
			a.DetectedAt, a.EntryID, a.LeafIndex, a.Problem, a.Total, overflow)
		if err != nil {
			return err
		}
		a.ID = id
		frows := make([][]any, len(uncovered))
		for i, f := range uncovered {
			frows[i] = []any{id, i, f.Problem, f.LeafIndex, f.LeafCount, f.EntryID, int64(f.Size), f.Digest}
		}
		return t.log.insertRows(ctx, tx, "INSERT INTO audit_alarm_findings (alarm_id, seq, problem, leaf_index, leaf_count, entry_id, size, digest) VALUES ", frows)
	})
	if err != nil {
		return nil, fmt.Errorf("audit: record alarm: %w", err)
	}
	a.Findings = uncovered[:min(len(uncovered), ShownFindings)]
	return &a, nil
}

// alarmByID reads an alarm with its first findings.
func (t *Tree) alarmByID(ctx context.Context, id int64) (Alarm, error) {
	var a Alarm
	var by, text sql.NullString
	var at sql.NullTime
	err := t.db.QueryRow(ctx, `SELECT id, detected_at, entry_id, leaf_index, problem, total, acknowledged_by, acknowledged_at, acknowledgement
		FROM audit_alarms WHERE id = ?`, id).
		Scan(&a.ID, &a.DetectedAt, &a.EntryID, &a.LeafIndex, &a.Problem, &a.Total, &by, &at, &text)
	if errors.Is(err, sql.ErrNoRows) {
		return Alarm{}, apperr.New(apperr.NotFound, "audit.alarm_not_found")
	}
	if err != nil {
		return Alarm{}, err
	}
	a.AckedBy, a.AckedAt, a.Acknowledge = by.String, at.Time, text.String
	rows, err := t.db.Query(ctx, `SELECT problem, leaf_index, leaf_count, entry_id, size, digest FROM audit_alarm_findings
		WHERE alarm_id = ? ORDER BY seq LIMIT `+strconv.Itoa(ShownFindings), id)
	if err != nil {
		return Alarm{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var f Finding
		var size int64
		if err := rows.Scan(&f.Problem, &f.LeafIndex, &f.LeafCount, &f.EntryID, &size, &f.Digest); err != nil {
			return Alarm{}, err
		}
		f.Size = uint64(size)
		a.Findings = append(a.Findings, f)
	}
	return a, rows.Err()
}

// Sealed returns the unacknowledged alarm that stops writes, or nil.
func (l *Log) Sealed() *Alarm { return l.sealed.Load() }

// Acknowledge records that an administrator has seen an alarm and takes
// responsibility for resuming writes; the acknowledgement is itself an
// audit entry. It covers exactly the alarm's findings: writes resume
// unless another alarm is still open. The alarm of a rollback cannot be
// acknowledged: only restoring the store clears it. The caller has checked
// that actor may do this.
func (t *Tree) Acknowledge(ctx context.Context, actor Actor, alarmID int64, statement string) error {
	e := Entry{Actor: actor, Action: ActionAcknowledge, ObjectType: "audit_alarm", ObjectID: strconv.FormatInt(alarmID, 10)}
	e.Set("statement", statement)
	if len(statement) < 10 {
		return t.log.Refuse(ctx, e, apperr.New(apperr.Invalid, "audit.ack_statement_required").OnField("statement"))
	}
	if a, err := t.alarmByID(ctx, alarmID); err == nil && a.Rollback() {
		return t.log.Refuse(ctx, e, apperr.New(apperr.Conflict, "audit.ack_rollback"))
	}
	err := t.log.Do(ctx, e, func(tx *store.Tx, e *Entry) error {
		res, err := tx.Exec(ctx, `UPDATE audit_alarms SET acknowledged_by = ?, acknowledged_at = ?, acknowledgement = ?
			WHERE id = ? AND acknowledged_at IS NULL`, actor.Login, storedTime(t.now()), statement, alarmID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.NotFound, "audit.alarm_not_found")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if a := t.log.sealed.Load(); a != nil && a.ID == alarmID {
		// Another open alarm keeps the log sealed.
		var open int64
		err := t.db.QueryRow(ctx, "SELECT id FROM audit_alarms WHERE acknowledged_at IS NULL ORDER BY id DESC LIMIT 1").Scan(&open)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			t.log.sealed.Store(nil)
		case err != nil:
			return err
		default:
			next, err := t.alarmByID(ctx, open)
			if err != nil {
				return err
			}
			t.log.sealed.Store(&next)
		}
	}
	return nil
}
