package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// memLog is a log held in memory: its leaf hashes, checkpoints and proofs.
type memLog struct {
	suite  audit.Suite
	signer note.Signer
	vkey   string
	origin string
}

func newMemLog(t *testing.T, name string, suite audit.Suite) *memLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return &memLog{suite: suite, signer: s, vkey: vkey, origin: s.Name()}
}

// subtree is the hash of the perfect subtree (level, index) over leaves.
func (l *memLog) subtree(leaves [][]byte, id compact.NodeID) []byte {
	h := l.suite.Hasher()
	level := append([][]byte(nil), leaves[id.Index<<id.Level:(id.Index+1)<<id.Level]...)
	for len(level) > 1 {
		next := level[:0:0]
		for i := 0; i < len(level); i += 2 {
			next = append(next, h.HashChildren(level[i], level[i+1]))
		}
		level = next
	}
	return level[0]
}

func (l *memLog) root(t *testing.T, leaves [][]byte) []byte {
	t.Helper()
	h := l.suite.Hasher()
	if len(leaves) == 0 {
		return h.EmptyRoot()
	}
	f := &compact.RangeFactory{Hash: h.HashChildren}
	r := f.NewEmptyRange(0)
	for _, lh := range leaves {
		if err := r.Append(lh, nil); err != nil {
			t.Fatal(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func (l *memLog) consistency(t *testing.T, leaves [][]byte, from, to uint64) [][]byte {
	t.Helper()
	if from == 0 || from >= to {
		return nil
	}
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		t.Fatal(err)
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		hashes[i] = l.subtree(leaves, id)
	}
	p, err := nodes.Rehash(hashes, l.suite.Hasher().HashChildren)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (l *memLog) checkpoint(t *testing.T, leaves [][]byte) []byte {
	t.Helper()
	signed, err := note.Sign(&note.Note{Text: audit.CheckpointBody(l.origin, uint64(len(leaves)), l.root(t, leaves))}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func randomLeaves(r *rand.Rand, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		h := make([]byte, 32)
		for j := range h {
			h[j] = byte(r.Uint32())
		}
		out[i] = h
	}
	return out
}

func isPrefix(prefix, of [][]byte) bool {
	if len(prefix) > len(of) {
		return false
	}
	for i := range prefix {
		if !bytes.Equal(prefix[i], of[i]) {
			return false
		}
	}
	return true
}

func newWitness(t *testing.T, state string, logs ...audit.WitnessedLog) (*audit.Witness, string) {
	t.Helper()
	skey, vkey, err := audit.GenerateWitnessKey("witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.ParseWitnessSigner(skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := audit.OpenWitness(s, logs, state)
	if err != nil {
		t.Fatal(err)
	}
	return w, vkey
}

func status(err error) int {
	var we *audit.WitnessError
	if errors.As(err, &we) {
		return we.Status
	}
	return 0
}

// Issue 17 (C2SP tlog-witness): the witness answers add-checkpoint as the
// protocol says: an unknown log 404, a bad signature 403, an old size
// above the checkpoint 400, an old size that is not its latest 409 with
// that size, a proof that does not verify or another root at the same
// size 422; and otherwise a timestamped cosignature that verifies with its
// key, recorded before it answers.
func TestWitnessProtocol(t *testing.T) {
	l := newMemLog(t, "log.example/a", audit.SM3)
	state := filepath.Join(t.TempDir(), "state.json")
	w, wkey := newWitness(t, state, audit.WitnessedLog{VerifierKey: l.vkey, Suite: audit.SM3})
	r := rand.New(rand.NewPCG(1, 2))
	leaves := randomLeaves(r, 40)
	other := newMemLog(t, "log.example/other", audit.SM3)
	forged := append(append([][]byte(nil), leaves[:10]...), randomLeaves(r, 30)...)
	cp := func(n int) []byte { return l.checkpoint(t, leaves[:n]) }

	if _, err := w.AddCheckpoint(0, nil, other.checkpoint(t, leaves[:5])); status(err) != http.StatusNotFound {
		t.Errorf("unknown log: %v", err)
	}
	bad := bytes.Replace(cp(5), []byte("\n5\n"), []byte("\n6\n"), 1)
	if _, err := w.AddCheckpoint(0, nil, bad); status(err) != http.StatusForbidden {
		t.Errorf("bad signature: %v", err)
	}
	if _, err := w.AddCheckpoint(9, nil, cp(5)); status(err) != http.StatusBadRequest {
		t.Errorf("old above size: %v", err)
	}
	if _, err := w.AddCheckpoint(0, [][]byte{make([]byte, 32)}, cp(5)); status(err) != http.StatusUnprocessableEntity {
		t.Errorf("a proof from 0: %v", err)
	}
	lines, err := w.AddCheckpoint(0, nil, cp(20))
	if err != nil {
		t.Fatal(err)
	}
	// The cosignature verifies with the witness's key, alone.
	wv, err := audit.NewVerifier(wkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(append(cp(20), lines...), note.VerifierList(wv)); err != nil {
		t.Fatalf("cosignature: %v\n%s", err, lines)
	}
	if _, err := w.AddCheckpoint(0, nil, cp(30)); status(err) != http.StatusConflict {
		t.Errorf("stale old size: %v", err)
	} else if we := new(audit.WitnessError); errors.As(err, &we) && we.Size != 20 {
		t.Errorf("409 size %d", we.Size)
	}
	if _, err := w.AddCheckpoint(20, l.consistency(t, forged, 20, 40), l.checkpoint(t, forged)); status(err) != http.StatusUnprocessableEntity {
		t.Errorf("fork: %v", err)
	}
	if _, err := w.AddCheckpoint(20, nil, cp(20)); err != nil {
		t.Errorf("same checkpoint again: %v", err)
	}
	if _, err := w.AddCheckpoint(20, nil, l.checkpoint(t, forged[:20])); status(err) != http.StatusUnprocessableEntity {
		t.Errorf("another root at the same size: %v", err)
	}
	if _, err := w.AddCheckpoint(20, l.consistency(t, leaves, 20, 40), cp(40)); err != nil {
		t.Fatalf("consistent: %v", err)
	}
	// The state survives a restart: the witness still holds 40.
	w2, err := audit.OpenWitness(mustWitnessSigner(t, w), []audit.WitnessedLog{{VerifierKey: l.vkey, Suite: audit.SM3}}, state)
	if err != nil {
		t.Fatal(err)
	}
	if _, size := w2.Latest(l.origin); size != 40 {
		t.Errorf("state after restart: %d", size)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file %v %v", fi, err)
	}
}

func mustWitnessSigner(t *testing.T, w *audit.Witness) note.Signer {
	t.Helper()
	// Any signer will do to reopen the state: the test checks the state.
	skey, _, err := audit.GenerateWitnessKey(w.Name())
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.ParseWitnessSigner(skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The cosignature follows C2SP tlog-cosignature byte for byte: checked
// here from the specification alone, not through our verifier.
func TestCosignatureFormat(t *testing.T) {
	skey, vkey, err := audit.GenerateWitnessKey("witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	s, err := audit.ParseWitnessSigner(skey, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("log.example/x\n5\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n")
	signed, err := note.Sign(&note.Note{Text: string(body)}, s)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(strings.SplitN(string(signed), "\n\n", 2)[1])
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, "— witness.example/w1 "))
	if err != nil || len(raw) != 4+8+64 {
		t.Fatalf("signature line %q", line)
	}
	parts := strings.SplitN(vkey, "+", 3) // the key's base64 may hold a + itself
	pub, _ := base64.StdEncoding.DecodeString(parts[2])
	if pub[0] != 0x04 || len(pub) != 33 {
		t.Fatalf("verifier key %q: want type 0x04 and 32 bytes", vkey)
	}
	id := sha256.Sum256(append([]byte("witness.example/w1\n"), pub...))
	if !bytes.Equal(raw[:4], id[:4]) || parts[1] != hex.EncodeToString(id[:4]) {
		t.Errorf("key ID %x, want %x", raw[:4], id[:4])
	}
	if ts := binary.BigEndian.Uint64(raw[4:12]); ts != uint64(at.Unix()) {
		t.Errorf("timestamp %d", ts)
	}
	msg := "cosignature/v1\ntime " + strconv.FormatInt(at.Unix(), 10) + "\n" + string(body)
	if !ed25519.Verify(ed25519.PublicKey(pub[1:]), []byte(msg), raw[12:]) {
		t.Error("the signature is not Ed25519 over the cosignature/v1 message")
	}
}

// Issue 17: a witness never cosigns a checkpoint inconsistent with one it
// cosigned before — property test over random histories: two branches of
// a log that share a random prefix, checkpoints of random sizes of either
// submitted in random order with correct, corrupted, missing or
// cross-branch proofs and right or wrong old sizes. Every checkpoint
// cosigned must extend the one cosigned before it; and a consistent
// checkpoint with its correct proof is never refused.
func TestWitnessNeverCosignsInconsistent(t *testing.T) {
	accepted, refused := 0, 0
	defer func() {
		// The histories exercise both answers, or the property says nothing.
		t.Logf("%d cosigned, %d refused", accepted, refused)
		if accepted < 1000 || refused < 1000 {
			t.Errorf("%d cosigned, %d refused: the histories are too tame", accepted, refused)
		}
	}()
	for _, suite := range []audit.Suite{audit.SHA256, audit.SM3} {
		l := newMemLog(t, "log.example/"+string(suite), suite)
		for seed := uint64(0); seed < 120; seed++ {
			r := rand.New(rand.NewPCG(seed, uint64(len(suite))))
			w, _ := newWitness(t, "", audit.WitnessedLog{VerifierKey: l.vkey, Suite: suite})
			honest := randomLeaves(r, 48)
			split := r.IntN(48)
			branches := [][][]byte{honest, append(append([][]byte(nil), honest[:split]...), randomLeaves(r, 48-split)...)}
			var cosigned [][]byte
			for step := 0; step < 40; step++ {
				b := branches[0]
				if r.IntN(10) < 3 {
					b = branches[1]
				}
				_, latest := w.Latest(l.origin)
				size := uint64(r.IntN(len(b) + 1))
				if r.IntN(10) < 7 && int(latest) <= len(b) { // mostly forward, as a log moves
					size = latest + uint64(r.IntN(len(b)-int(latest)+1))
				}
				old := latest
				if r.IntN(8) == 0 {
					old = uint64(r.IntN(len(b) + 1))
				}
				p, honestProof := [][]byte(nil), false
				if old <= size {
					p, honestProof = l.consistency(t, b, old, size), true
				}
				switch r.IntN(8) {
				case 0: // a proof from the other branch
					p, honestProof = l.consistency(t, branches[1-r.IntN(2)], old, size), false
				case 1: // a corrupted proof
					if len(p) > 0 {
						p = append([][]byte(nil), p...)
						i := r.IntN(len(p))
						p[i] = append([]byte(nil), p[i]...)
						p[i][r.IntN(32)] ^= 1 << r.IntN(8)
						honestProof = false
					}
				case 2: // no proof
					if len(p) > 0 {
						p, honestProof = nil, false
					}
				}
				_, err := w.AddCheckpoint(old, p, l.checkpoint(t, b[:size]))
				consistent := isPrefix(cosigned, b[:size])
				if err == nil {
					if !consistent {
						t.Fatalf("%s seed %d step %d: cosigned size %d, not an extension of the cosigned size %d", suite, seed, step, size, len(cosigned))
					}
					cosigned = b[:size]
					accepted++
					continue
				}
				refused++
				if consistent && old == latest && honestProof {
					t.Fatalf("%s seed %d step %d: refused a consistent checkpoint %d→%d with its proof: %v", suite, seed, step, old, size, err)
				}
			}
		}
	}
}

// waitCosigned polls until the latest checkpoint carries n cosignatures.
func waitCosigned(t *testing.T, f *logFixture, vkeys ...string) audit.Checkpoint {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	v, _ := audit.NewVerifier(f.tree.VerifierKey())
	for {
		cp, err := f.tree.Latest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := audit.OpenCheckpoint([]byte(cp.Note), v, audit.VerifyOptions{Witnesses: vkeys}); err == nil {
			return cp
		} else if time.Now().After(deadline) {
			t.Fatalf("checkpoint %d not cosigned: %v\n%s\nwitnesses %+v", cp.Size, err, cp.Note, f.tree.WitnessStatuses())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Issue 17: the platform submits each new checkpoint to its witnesses
// over HTTP, off the path of the appends, stores their cosignatures and
// publishes them; a log rolled back and grown again (a fork) is refused
// by the witness, which the platform takes as proof of the rollback: it
// seals the log. Both engines.
func TestPlatformWithWitnesses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		f := openTree(t, db, audit.SM3, audit.KeySM2, dir)
		w, wkey := newWitness(t, filepath.Join(t.TempDir(), "state.json"), audit.WitnessedLog{VerifierKey: f.tree.VerifierKey(), Suite: audit.SM3})
		_, wkey2 := newWitness(t, "", audit.WitnessedLog{VerifierKey: f.tree.VerifierKey(), Suite: audit.SM3})
		srv := httptest.NewServer(w.Handler())
		defer srv.Close()
		run := func(f *logFixture) func() {
			if err := f.tree.AddWitnesses(ctx, []audit.WitnessEndpoint{{URL: srv.URL, VerifierKey: wkey}}); err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { f.tree.RunWitnesses(rctx, srv.Client(), 50*time.Millisecond); close(done) }()
			return func() { cancel(); <-done }
		}
		stop := run(f)
		f.appendN(t, 20)
		f.integrate(t)
		first := waitCosigned(t, f, wkey) // 21: the witness's registration is an entry too
		f.appendN(t, 17)
		f.integrate(t)
		cp := waitCosigned(t, f, wkey)
		if cp.Size != first.Size+17 {
			t.Fatalf("cosigned size %d", cp.Size)
		}
		v, _ := audit.NewVerifier(f.tree.VerifierKey())
		if _, err := audit.OpenCheckpoint([]byte(cp.Note), v, audit.VerifyOptions{Witnesses: []string{wkey, wkey2}, Quorum: 2}); err == nil || !strings.Contains(err.Error(), "1 of the witnesses, 2 needed") {
			t.Errorf("quorum of 2 with one cosignature: %v", err)
		}
		if _, err := audit.OpenCheckpoint([]byte(cp.Note), v, audit.VerifyOptions{Witnesses: []string{wkey, wkey2}, Quorum: 1}); err != nil {
			t.Errorf("quorum of 1 of 2: %v", err)
		}
		// A cosignature older than the verifier accepts does not count.
		later := func() time.Time { return time.Now().Add(2 * time.Hour) }
		if _, err := audit.OpenCheckpoint([]byte(cp.Note), v, audit.VerifyOptions{Witnesses: []string{wkey}, MaxAge: time.Hour, Now: later}); err == nil || !strings.Contains(err.Error(), "older than 1h0m0s") {
			t.Errorf("stale cosignature: %v", err)
		}
		// The witness serves what it cosigned on its monitoring path.
		sum := sha256.Sum256([]byte(f.tree.Origin()))
		resp, err := srv.Client().Get(srv.URL + "/" + hex.EncodeToString(sum[:]) + "/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got, err := audit.OpenCheckpoint(b, v, audit.VerifyOptions{Witnesses: []string{wkey}}); err != nil || got.Size != cp.Size {
			t.Errorf("monitoring checkpoint: %v\n%s", err, b)
		}
		stop()

		// Rolled back to the first checkpoint with the kept checkpoint
		// removed too, and grown again: the store alone cannot tell, the
		// witness can.
		truncate(t, db, int64(first.Size))
		exec(t, db, "DELETE FROM audit_cosignatures WHERE size > ?", int64(first.Size))
		if err := os.Remove(filepath.Join(dir, audit.CheckpointFile)); err != nil {
			t.Fatal(err)
		}
		g := openTree(t, db, "", "", dir)
		g.appendN(t, 30)
		g.integrate(t)
		stop = run(g)
		defer stop()
		deadline := time.Now().Add(20 * time.Second)
		for g.log.Sealed() == nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if a := g.log.Sealed(); a == nil || !a.Rollback() {
			t.Fatalf("the fork was not caught: sealed %+v, witnesses %+v", a, g.tree.WitnessStatuses())
		}
		latest, _ := g.tree.Latest(ctx)
		if _, err := audit.OpenCheckpoint([]byte(latest.Note), v, audit.VerifyOptions{Witnesses: []string{wkey}}); err == nil {
			t.Error("the forked checkpoint carries the witness's cosignature")
		}
		if _, size := w.Latest(f.tree.Origin()); size != cp.Size {
			t.Errorf("the witness moved to %d", size)
		}
	})
}
