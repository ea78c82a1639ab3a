package audit

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/transparency-dev/merkle"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/store"
)

// TreeConfig chooses how a new log is made; an existing log keeps the
// suite and origin it was created with.
type TreeConfig struct {
	Suite   Suite   // default SM3
	KeyType KeyType // default SM2
	// KeyDir holds the signing key (the data directory), unless KeyFile
	// names it elsewhere.
	KeyDir string
	// KeyFile is the signing key's file, kept apart from the data
	// directory in production: whoever can rewrite the store must not
	// also hold the key that signs it. It must be accessible to its
	// owner only. Default KeyDir/audit-signer.key.
	KeyFile string
	// CheckpointFile is where the latest checkpoint is kept outside the
	// SQL store; default KeyDir/audit-checkpoint, none without KeyDir.
	CheckpointFile string
	// MustExist refuses to create a new log: for commands that only read
	// or check an existing one.
	MustExist bool
	// Origin names the log in its checkpoints; default
	// "gongshu.audit/<random>", unique per log.
	Origin string
	Logger *slog.Logger
}

// Tree is the Merkle log over the audit entries: it integrates committed
// entries as leaves in commit order, keeps the nodes of complete subtrees
// for proofs, and signs a checkpoint after each integration.
type Tree struct {
	db       *store.DB
	log      *Log
	now      func() time.Time
	logger   *slog.Logger
	suite    Suite
	hasher   merkle.LogHasher
	factory  *compact.RangeFactory
	signer   note.Signer
	verifier note.Verifier
	vkey     string
	origin   string

	mu        sync.Mutex // serializes integration and guards the fields below
	rng       *compact.Range
	lastEntry int64
	lastChain []byte // the chain link of the last leaf (nil before the first, or after legacy leaves)
	// keptPath is the file outside the SQL store where the latest
	// checkpoint is kept ("" keeps none); kept is what it holds.
	keptPath string
	kept     *Checkpoint
	// rollback is set when the store is behind or forked from the kept
	// checkpoint: the tree then refuses to integrate or sign.
	rollback *RollbackError
	// signed is the last checkpoint this process signed, not yet kept.
	signed *Checkpoint
	// witnesses are the witnesses new checkpoints are submitted to.
	witnesses []*witnessClient
}

// batchSize bounds the entries integrated in one transaction.
const batchSize = 4096

// OpenTree opens the log's tree, creating the log (its suite, origin and
// signing key) on first start, and rebuilds the integration state from
// the stored nodes. It does not integrate; call Integrate or Run.
func OpenTree(ctx context.Context, db *store.DB, log *Log, cfg TreeConfig) (*Tree, error) {
	if cfg.Suite == "" {
		cfg.Suite = SM3
	}
	if cfg.KeyType == "" {
		cfg.KeyType = KeySM2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Tree{db: db, log: log, now: log.now, logger: cfg.Logger}
	var suite, origin, vkey string
	err := db.QueryRow(ctx, "SELECT suite, origin, verifier_key FROM audit_log WHERE id = 1").Scan(&suite, &origin, &vkey)
	switch {
	case errors.Is(err, sql.ErrNoRows) && cfg.MustExist:
		return nil, ErrNoLog
	case errors.Is(err, sql.ErrNoRows):
		origin = cfg.Origin
		if origin == "" {
			var b [6]byte
			_, _ = rand.Read(b[:])
			origin = "gongshu.audit/" + hex.EncodeToString(b[:])
		}
		signer, pub, err := loadOrCreateKey(cfg, origin)
		if err != nil {
			return nil, err
		}
		if signer.Name() != origin {
			return nil, fmt.Errorf("audit: the signing key %s is for log %q, not a new log: move it away or pass its origin", keyPath(cfg), signer.Name())
		}
		suite, vkey = string(cfg.Suite), pub
		err = db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO audit_log (id, suite, origin, verifier_key, created_at) VALUES (1, ?, ?, ?, ?)",
				suite, origin, vkey, storedTime(log.now()))
			return err
		})
		if err != nil {
			// Another server created the log first: use its definition.
			if err2 := db.QueryRow(ctx, "SELECT suite, origin, verifier_key FROM audit_log WHERE id = 1").Scan(&suite, &origin, &vkey); err2 != nil {
				return nil, fmt.Errorf("audit: create log: %w", err)
			}
		}
		t.signer = signer
	case err != nil:
		return nil, fmt.Errorf("audit: read log definition: %w", err)
	}
	switch {
	case t.signer != nil:
	case cfg.MustExist && keyPath(cfg) == "":
		// Verify only: the check and the proofs need the public key alone.
	case cfg.MustExist:
		signer, pub, err := LoadKeyFile(keyPath(cfg))
		if err != nil {
			return nil, err
		}
		if pub != vkey {
			return nil, fmt.Errorf("audit: the signing key %s does not match the log's public key %s: restore the key that signed this log", keyPath(cfg), vkey)
		}
		t.signer = signer
	default:
		signer, pub, err := loadOrCreateKey(cfg, origin)
		if err != nil {
			return nil, err
		}
		if pub != vkey {
			return nil, fmt.Errorf("audit: the signing key %s does not match the log's public key %s: restore the key that signed this log", keyPath(cfg), vkey)
		}
		t.signer = signer
	}
	if t.suite, err = ParseSuite(suite); err != nil {
		return nil, err
	}
	if t.verifier, err = NewVerifier(vkey); err != nil {
		return nil, err
	}
	t.vkey, t.origin = vkey, origin
	t.hasher = t.suite.Hasher()
	t.factory = &compact.RangeFactory{Hash: t.hasher.HashChildren}
	t.keptPath = cfg.CheckpointFile
	if t.keptPath == "" && cfg.KeyDir != "" {
		t.keptPath = filepath.Join(cfg.KeyDir, CheckpointFile)
	}
	if t.kept, err = t.readKept(); err != nil {
		return nil, err
	}
	// A store behind or forked from the kept checkpoint is not an error
	// here: Check records it and Integrate refuses to sign over it.
	if err := t.reload(ctx); err != nil && !errors.As(err, new(*RollbackError)) {
		return nil, err
	}
	if err := t.rebuildPostings(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// keyPath is where the signing key of cfg lives ("" for none).
func keyPath(cfg TreeConfig) string {
	if cfg.KeyFile != "" {
		return cfg.KeyFile
	}
	if cfg.KeyDir == "" {
		return ""
	}
	return filepath.Join(cfg.KeyDir, KeyFile)
}

// loadOrCreateKey reads the signing key of cfg, creating it on first start.
func loadOrCreateKey(cfg TreeConfig, origin string) (note.Signer, string, error) {
	if cfg.KeyFile != "" {
		return LoadOrCreateKeyFile(cfg.KeyFile, origin, cfg.KeyType)
	}
	return LoadOrCreateKey(cfg.KeyDir, origin, cfg.KeyType)
}

// Suite, Origin and VerifierKey describe the log.
func (t *Tree) Suite() Suite        { return t.suite }
func (t *Tree) Origin() string      { return t.origin }
func (t *Tree) VerifierKey() string { return t.vkey }

// Verifier checks this log's checkpoint signatures.
func (t *Tree) Verifier() note.Verifier { return t.verifier }

// reload rebuilds the compact range from the stored tree, and checks that
// the stored tree still extends the checkpoint kept outside the store (a
// *RollbackError when it does not, which also stops integration).
func (t *Tree) reload(ctx context.Context) error {
	var size int64
	var last sql.NullInt64
	if err := t.db.QueryRow(ctx, "SELECT COALESCE(MAX(leaf_index) + 1, 0), MAX(entry_id) FROM audit_leaves").Scan(&size, &last); err != nil {
		return fmt.Errorf("audit: read tree size: %w", err)
	}
	ids := compact.RangeNodes(0, uint64(size), nil)
	hashes, err := t.nodeHashes(ctx, t.db, ids)
	if err != nil {
		return err
	}
	rng, err := t.factory.NewRange(0, uint64(size), hashes)
	if err != nil {
		return fmt.Errorf("audit: rebuild tree state: %w", err)
	}
	var chain []byte
	if size > 0 {
		if err := t.db.QueryRow(ctx, "SELECT chain FROM audit_leaves WHERE leaf_index = ?", size-1).Scan(&chain); err != nil {
			return fmt.Errorf("audit: read the leaf chain: %w", err)
		}
	}
	t.rng, t.lastEntry, t.lastChain = rng, last.Int64, chain
	if rb := t.checkKept(ctx, uint64(size)); rb != nil {
		t.rollback = rb
		return rb
	}
	return nil
}

type querier interface {
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// nodeStride spaces the stored interior nodes: only levels that are
// multiples of it are written (with the leaves at level 0). A node between
// them is recomputed from at most 2^(nodeStride-1) stored hashes below it.
// Storing every level costs one row per leaf, which the integrator writes
// under the store's single write lock; with a stride of 4 it writes one
// row per 16 leaves, and a proof reads a few dozen hashes more.
const nodeStride = 4

// storedNode reports whether the integrator writes a node.
func storedNode(id compact.NodeID) bool { return id.Level > 0 && id.Level%nodeStride == 0 }

// nodeHashes returns the hashes of complete-subtree nodes, in the order of
// ids, from the stored leaves and nodes: one query for the leaves and one
// for the nodes, whatever the number of ids.
func (t *Tree) nodeHashes(ctx context.Context, q querier, ids []compact.NodeID) ([][]byte, error) {
	// Each id is answered by a range of stored hashes at its base level.
	type span struct {
		base   uint
		lo, hi uint64 // [lo, hi) at level base
	}
	spans := make([]span, len(ids))
	var leafQ, nodeQ strings.Builder
	var leafArgs, nodeArgs []any
	for i, id := range ids {
		base := id.Level - id.Level%nodeStride
		sp := span{base: base, lo: id.Index << (id.Level - base), hi: (id.Index + 1) << (id.Level - base)}
		spans[i] = sp
		if base == 0 {
			if len(leafArgs) > 0 {
				leafQ.WriteString(" OR ")
			}
			leafQ.WriteString("(leaf_index >= ? AND leaf_index < ?)")
			leafArgs = append(leafArgs, int64(sp.lo), int64(sp.hi))
		} else {
			if len(nodeArgs) > 0 {
				nodeQ.WriteString(" OR ")
			}
			nodeQ.WriteString("(level = ? AND idx >= ? AND idx < ?)")
			nodeArgs = append(nodeArgs, int(base), int64(sp.lo), int64(sp.hi))
		}
	}
	found := make(map[compact.NodeID][]byte, len(ids))
	read := func(query string, args []any) error {
		rows, err := q.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var level int
			var idx int64
			var h []byte
			if err := rows.Scan(&level, &idx, &h); err != nil {
				return err
			}
			found[compact.NewNodeID(uint(level), uint64(idx))] = h
		}
		return rows.Err()
	}
	if len(leafArgs) > 0 {
		if err := read("SELECT 0, leaf_index, hash FROM audit_leaves WHERE "+leafQ.String(), leafArgs); err != nil {
			return nil, fmt.Errorf("audit: tree leaves: %w", err)
		}
	}
	if len(nodeArgs) > 0 {
		if err := read("SELECT level, idx, hash FROM audit_nodes WHERE "+nodeQ.String(), nodeArgs); err != nil {
			return nil, fmt.Errorf("audit: tree nodes: %w", err)
		}
	}
	out := make([][]byte, len(ids))
	for i, sp := range spans {
		level := make([][]byte, 0, sp.hi-sp.lo)
		for j := sp.lo; j < sp.hi; j++ {
			h, ok := found[compact.NewNodeID(sp.base, j)]
			if !ok {
				return nil, fmt.Errorf("audit: tree node (%d, %d) is missing", sp.base, j)
			}
			level = append(level, h)
		}
		// Fold the complete subtree up to the requested node.
		for len(level) > 1 {
			next := level[:0:0]
			for j := 0; j < len(level); j += 2 {
				next = append(next, t.hasher.HashChildren(level[j], level[j+1]))
			}
			level = next
		}
		out[i] = level[0]
	}
	return out, nil
}

// Size is the number of integrated entries.
func (t *Tree) Size() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rng.End()
}

// entryColumns are read to build leaves, in the leaf's field order.
const entryColumns = `id, at, actor_user_id, actor_login, actor_org_id, action, object_type, object_id,
	outcome, reason, details, request_id, remote_addr`

func scanLeafEntry(rows interface{ Scan(...any) error }) (Entry, string, error) {
	var e Entry
	var uid, oid sql.NullInt64
	var outcome, details string
	err := rows.Scan(&e.ID, &e.At, &uid, &e.Actor.Login, &oid, &e.Action, &e.ObjectType, &e.ObjectID,
		&outcome, &e.Reason, &details, &e.RequestID, &e.RemoteAddr)
	e.Actor.UserID, e.Actor.OrgID, e.Outcome = uid.Int64, oid.Int64, Outcome(outcome)
	return e, details, err
}

var errStale = errors.New("audit: another server integrated first")

// Integrate appends every committed entry not yet in the tree, in entry ID
// order (which is commit order: see Log.Append), and signs a checkpoint.
// It returns how many entries it added.
//
// It refuses (with the *RollbackError) while the store is behind or forked
// from the checkpoint kept outside it, and keeps each new checkpoint there.
func (t *Tree) Integrate(ctx context.Context) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	total := 0
	for {
		if t.rollback != nil {
			t.sealRollback(ctx)
			return total, t.rollback
		}
		if t.signer == nil {
			return total, ErrNoSigner
		}
		n, err := t.integrateBatch(ctx)
		if errors.Is(err, errStale) {
			// A rollback found by the reload is refused at the top.
			if err := t.reload(ctx); err != nil && t.rollback == nil {
				return total, err
			}
			continue
		}
		total += n
		if err != nil || n < batchSize {
			if kerr := t.keepSigned(); kerr != nil {
				err = errors.Join(err, kerr)
			}
			if total > 0 {
				t.notifyWitnesses()
			}
			return total, err
		}
	}
}

func (t *Tree) integrateBatch(ctx context.Context) (int, error) {
	rows, err := t.db.Query(ctx, "SELECT "+entryColumns+" FROM audit_entries WHERE id > ? ORDER BY id LIMIT "+strconv.Itoa(batchSize), t.lastEntry)
	if err != nil {
		return 0, fmt.Errorf("audit: read entries to integrate: %w", err)
	}
	type leaf struct {
		entry int64
		hash  []byte
		chain []byte
	}
	var leaves []leaf
	keyed := map[string][]int64{}
	for rows.Next() {
		e, details, err := scanLeafEntry(rows)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("audit: read entries to integrate: %w", err)
		}
		leaves = append(leaves, leaf{entry: e.ID, hash: t.hasher.HashLeaf(LeafBytes(e, details))})
		for _, k := range lookupKeys(e) {
			keyed[k] = append(keyed[k], e.ID)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(leaves) == 0 {
		return 0, nil
	}
	chain := t.lastChain
	for i := range leaves {
		chain = t.suite.chainLink(chain, leaves[i].hash)
		leaves[i].chain = chain
	}
	begin := t.rng.End()
	rng, err := t.factory.NewRange(0, begin, cloneHashes(t.rng.Hashes()))
	if err != nil {
		return 0, err
	}
	type node struct {
		id   compact.NodeID
		hash []byte
	}
	var nodes []node
	for _, l := range leaves {
		if err := rng.Append(l.hash, func(id compact.NodeID, h []byte) {
			if storedNode(id) {
				nodes = append(nodes, node{id, h})
			}
		}); err != nil {
			return 0, err
		}
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return 0, err
	}
	cp, err := t.sign(rng.End(), root)
	if err != nil {
		return 0, err
	}
	// Leaves, nodes, postings and the checkpoint are all derived from the
	// entries, which are durable before the integrator can read them: a
	// crash that loses this commit loses nothing the next Integrate does
	// not redo, and a checkpoint already served names a size whose root
	// the redone tree reproduces. So the commit need not wait for the disk
	// while it holds the write lock the writers of new entries queue on.
	err = t.db.InTxLazy(ctx, func(tx *store.Tx) error {
		if tx.Dialect() == store.Postgres {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(7261002)"); err != nil {
				return err
			}
		}
		var size int64
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM audit_leaves").Scan(&size); err != nil {
			return err
		}
		if uint64(size) != begin {
			return errStale
		}
		leafRows := make([][]any, len(leaves))
		for i, l := range leaves {
			leafRows[i] = []any{int64(begin) + int64(i), l.entry, l.hash, l.chain}
		}
		if err := t.log.insertRows(ctx, tx, "INSERT INTO audit_leaves (leaf_index, entry_id, hash, chain) VALUES ", leafRows); err != nil {
			return err
		}
		nodeRows := make([][]any, len(nodes))
		for i, n := range nodes {
			nodeRows[i] = []any{int(n.id.Level), int64(n.id.Index), n.hash}
		}
		if err := t.log.insertRows(ctx, tx, "INSERT INTO audit_nodes (level, idx, hash) VALUES ", nodeRows); err != nil {
			return err
		}
		if err := t.log.insertPostings(ctx, tx, buildPostings(keyed)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)",
			int64(cp.Size), cp.Root, cp.Note, storedTime(cp.At))
		return err
	})
	if err != nil {
		if errors.Is(err, errStale) {
			return 0, errStale
		}
		return 0, fmt.Errorf("audit: integrate %d entries: %w", len(leaves), err)
	}
	t.rng, t.lastEntry, t.lastChain, t.signed = rng, leaves[len(leaves)-1].entry, chain, &cp
	return len(leaves), nil
}

func cloneHashes(hs [][]byte) [][]byte {
	out := make([][]byte, len(hs))
	copy(out, hs)
	return out
}

// Run integrates committed entries until ctx ends: woken by commits, it
// waits a moment (coalesce) so that a burst of entries shares one batch and
// one signature, and it also integrates every interval in case a wake-up
// was missed. An entry is in a signed checkpoint well within a second of
// its commit.
func (t *Tree) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	// Under load this turns thousands of commits into a few integrations
	// (and signatures) a second, leaving the write lock to the writers.
	const coalesce = 100 * time.Millisecond
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.log.wake:
			select {
			case <-ctx.Done():
				return
			case <-time.After(coalesce):
			}
		case <-tick.C:
		}
		if _, err := t.Integrate(ctx); err != nil && ctx.Err() == nil {
			t.logger.Error("audit: integrate", "err", err)
		}
	}
}

// Checkpoint is a signed statement of the tree's size and root.
type Checkpoint struct {
	Origin string    `json:"origin"`
	Size   uint64    `json:"size"`
	Root   []byte    `json:"root"`
	Note   string    `json:"note"` // the signed note, as published
	At     time.Time `json:"at"`
}

// CheckpointBody is the checkpoint text that is signed (C2SP
// tlog-checkpoint): origin, decimal size, base64 root, each on a line.
func CheckpointBody(origin string, size uint64, root []byte) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root))
}

func (t *Tree) sign(size uint64, root []byte) (Checkpoint, error) {
	msg, err := note.Sign(&note.Note{Text: CheckpointBody(t.origin, size, root)}, t.signer)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	return Checkpoint{Origin: t.origin, Size: size, Root: root, Note: string(msg), At: t.now().UTC()}, nil
}

// ParseCheckpoint opens a signed checkpoint with the given verifiers
// (the log's key, and any cosigners) and reads its body.
func ParseCheckpoint(signed []byte, verifiers ...note.Verifier) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(verifiers...))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return Checkpoint{}, errors.New("checkpoint: want origin, size and root lines")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint size %q: %w", lines[1], err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint root: %w", err)
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root, Note: string(signed)}, nil
}

// Latest returns the newest checkpoint; an empty log has size 0.
func (t *Tree) Latest(ctx context.Context) (Checkpoint, error) {
	var cp Checkpoint
	var size int64
	err := t.db.QueryRow(ctx, "SELECT size, root, note, created_at FROM audit_checkpoints ORDER BY size DESC LIMIT 1").
		Scan(&size, &cp.Root, &cp.Note, &cp.At)
	if errors.Is(err, sql.ErrNoRows) {
		c, err := t.sign(0, t.hasher.EmptyRoot())
		return c, err
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: latest checkpoint: %w", err)
	}
	cp.Size, cp.Origin, cp.At = uint64(size), t.origin, cp.At.UTC()
	if cp.Note, err = t.withCosignatures(ctx, cp.Size, cp.Note); err != nil {
		return Checkpoint{}, fmt.Errorf("audit: latest checkpoint: %w", err)
	}
	return cp, nil
}

// checkSize refuses sizes the log has not signed.
// It reads only the signed size: a proof needs neither the note nor its
// cosignatures.
func (t *Tree) checkSize(ctx context.Context, size uint64) error {
	var signed int64
	if err := t.db.QueryRow(ctx, "SELECT COALESCE(MAX(size), 0) FROM audit_checkpoints").Scan(&signed); err != nil {
		return fmt.Errorf("audit: signed size: %w", err)
	}
	if size == 0 || size > uint64(signed) {
		return apperr.New(apperr.Invalid, "audit.bad_size", "size", strconv.FormatUint(size, 10), "max", strconv.FormatInt(signed, 10)).OnField("size")
	}
	return nil
}

// InclusionProof proves that leaf index is in the tree of the given size.
func (t *Tree) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	if err := t.checkSize(ctx, size); err != nil {
		return nil, err
	}
	if index >= size {
		return nil, apperr.New(apperr.Invalid, "audit.bad_index", "index", strconv.FormatUint(index, 10), "size", strconv.FormatUint(size, 10)).OnField("index")
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return t.build(ctx, nodes)
}

// ConsistencyProof proves that the tree of size1 is a prefix of the tree of size2.
func (t *Tree) ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	if err := t.checkSize(ctx, size2); err != nil {
		return nil, err
	}
	if size1 == 0 || size1 > size2 {
		return nil, apperr.New(apperr.Invalid, "audit.bad_size", "size", strconv.FormatUint(size1, 10), "max", strconv.FormatUint(size2, 10)).OnField("from")
	}
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	return t.build(ctx, nodes)
}

func (t *Tree) build(ctx context.Context, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := t.nodeHashes(ctx, t.db, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, t.hasher.HashChildren)
}

// Leaf returns the entry at a leaf index with its leaf hash.
func (t *Tree) Leaf(ctx context.Context, index uint64) (Entry, []byte, error) {
	var entryID int64
	var hash []byte
	err := t.db.QueryRow(ctx, "SELECT entry_id, hash FROM audit_leaves WHERE leaf_index = ?", int64(index)).Scan(&entryID, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, nil, apperr.New(apperr.NotFound, "audit.leaf_not_found", "index", strconv.FormatUint(index, 10))
	}
	if err != nil {
		return Entry{}, nil, err
	}
	e, _, err := scanLeafEntry(t.db.QueryRow(ctx, "SELECT "+entryColumns+" FROM audit_entries WHERE id = ?", entryID))
	if err != nil {
		return Entry{}, nil, fmt.Errorf("audit: entry %d of leaf %d: %w", entryID, index, err)
	}
	e.At = e.At.UTC()
	return e, hash, nil
}

// LeafIndex returns the leaf index of an entry, once integrated.
func (t *Tree) LeafIndex(ctx context.Context, entryID int64) (uint64, error) {
	var idx int64
	err := t.db.QueryRow(ctx, "SELECT leaf_index FROM audit_leaves WHERE entry_id = ?", entryID).Scan(&idx)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, apperr.New(apperr.NotFound, "audit.not_integrated", "id", strconv.FormatInt(entryID, 10))
	}
	return uint64(idx), err
}
