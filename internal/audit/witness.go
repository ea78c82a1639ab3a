package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/transparency-dev/merkle"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"
)

// A witness (C2SP tlog-witness) keeps, for each log it follows, the latest
// checkpoint it cosigned, and cosigns a new one only when the log proves
// it consistent with that one. A regulator, the provincial platform or a
// city runs one with its own key; a log that was rolled back or rewritten
// cannot get its cosignature again, whatever key the log's operator holds.

// WitnessedLog is a log a witness follows: its public key, which names it
// (the key's name is the log's origin), and its hash suite.
type WitnessedLog struct {
	VerifierKey string
	Suite       Suite
}

// ParseWitnessedLog reads a --log value: VKEY, SUITE=VKEY or ORIGIN=VKEY
// (ORIGIN must then be the key's name); the suite defaults to SM3.
func ParseWitnessedLog(s string) (WitnessedLog, error) {
	l := WitnessedLog{VerifierKey: s, Suite: SM3}
	if prefix, vkey, ok := strings.Cut(s, "="); ok {
		l.VerifierKey = vkey
		if suite, err := ParseSuite(prefix); err == nil {
			l.Suite = suite
		} else if name, _, _ := strings.Cut(vkey, "+"); name != prefix {
			return l, fmt.Errorf("--log %q: before = give the hash suite (sm3 or sha256) or the log's origin %q", s, name)
		}
	}
	if _, err := NewVerifier(l.VerifierKey); err != nil {
		return l, fmt.Errorf("--log %q: %w", s, err)
	}
	return l, nil
}

// WitnessError is a refusal of the witness protocol, with its HTTP status.
type WitnessError struct {
	Status int
	// Size is the witness's latest size for the log (409 Conflict).
	Size uint64
	Msg  string
}

func (e *WitnessError) Error() string {
	if e.Status == http.StatusConflict {
		return fmt.Sprintf("witness: %s (its latest checkpoint has size %d)", e.Msg, e.Size)
	}
	return fmt.Sprintf("witness: %s (%d %s)", e.Msg, e.Status, http.StatusText(e.Status))
}

func werr(status int, format string, args ...any) error {
	return &WitnessError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

type witnessedLog struct {
	verifier note.Verifier
	hasher   merkle.LogHasher
}

// witnessRecord is the latest checkpoint cosigned for a log.
type witnessRecord struct {
	Size uint64 `json:"size"`
	Root []byte `json:"root"`
	Note string `json:"note"` // with the log's signature and the witness's cosignature
}

// Witness is the state and rules of a witness; Handler serves them.
type Witness struct {
	signer note.Signer
	logs   map[string]witnessedLog // by origin

	mu        sync.Mutex // held from reading a log's record to persisting its successor
	statePath string
	state     map[string]witnessRecord
}

// OpenWitness opens a witness that signs with signer and follows logs,
// keeping its state in the file at statePath ("" keeps it in memory only,
// for tests). The state is written atomically before each cosignature is
// returned.
func OpenWitness(signer note.Signer, logs []WitnessedLog, statePath string) (*Witness, error) {
	w := &Witness{signer: signer, logs: map[string]witnessedLog{}, statePath: statePath, state: map[string]witnessRecord{}}
	for _, l := range logs {
		v, err := NewVerifier(l.VerifierKey)
		if err != nil {
			return nil, err
		}
		if _, dup := w.logs[v.Name()]; dup {
			return nil, fmt.Errorf("witness: log %s given twice", v.Name())
		}
		w.logs[v.Name()] = witnessedLog{verifier: v, hasher: l.Suite.Hasher()}
	}
	if statePath != "" {
		b, err := os.ReadFile(statePath)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("witness: read state: %w", err)
		default:
			if err := json.Unmarshal(b, &w.state); err != nil {
				return nil, fmt.Errorf("witness: state file %s: %w", statePath, err)
			}
		}
	}
	return w, nil
}

// Name is the witness's key name.
func (w *Witness) Name() string { return w.signer.Name() }

// Latest returns the latest checkpoint cosigned for a log ("" if none).
func (w *Witness) Latest(origin string) (string, uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.state[origin]
	return r.Note, r.Size
}

// AddCheckpoint is C2SP tlog-witness add-checkpoint: it verifies the
// checkpoint's signature with the log's key, that oldSize is the size of
// the latest checkpoint it cosigned for the log, and the consistency
// proof from that checkpoint; then it records the new checkpoint and
// returns its cosignature lines. Any refusal is a *WitnessError.
func (w *Witness) AddCheckpoint(oldSize uint64, consistency [][]byte, signed []byte) ([]byte, error) {
	origin, _, _ := bytes.Cut(signed, []byte("\n"))
	l, ok := w.logs[string(origin)]
	if !ok {
		return nil, werr(http.StatusNotFound, "unknown log %q", origin)
	}
	n, err := note.Open(signed, note.VerifierList(l.verifier))
	if err != nil {
		return nil, werr(http.StatusForbidden, "the checkpoint does not verify with the log's key: %v", err)
	}
	cp, err := parseCheckpointText(n.Text)
	if err != nil {
		return nil, werr(http.StatusBadRequest, "%v", err)
	}
	if oldSize > cp.Size {
		return nil, werr(http.StatusBadRequest, "old size %d is above the checkpoint's size %d", oldSize, cp.Size)
	}
	if len(consistency) > 63 {
		return nil, werr(http.StatusBadRequest, "a consistency proof has at most 63 hashes")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	last := w.state[cp.Origin]
	if oldSize != last.Size {
		return nil, &WitnessError{Status: http.StatusConflict, Size: last.Size, Msg: fmt.Sprintf("old size %d is not the size of the latest checkpoint cosigned", oldSize)}
	}
	switch {
	case cp.Size == 0:
		if !bytes.Equal(cp.Root, l.hasher.EmptyRoot()) {
			return nil, werr(http.StatusUnprocessableEntity, "a checkpoint of size 0 must have the empty tree's root")
		}
	case oldSize == 0:
		if len(consistency) > 0 {
			return nil, werr(http.StatusUnprocessableEntity, "no consistency proof from size 0")
		}
	case oldSize == cp.Size:
		if !bytes.Equal(cp.Root, last.Root) {
			return nil, werr(http.StatusUnprocessableEntity, "checkpoint %d has root %x, the one cosigned %x: a fork", cp.Size, cp.Root, last.Root)
		}
	default:
		if err := proof.VerifyConsistency(l.hasher, oldSize, cp.Size, consistency, last.Root, cp.Root); err != nil {
			return nil, werr(http.StatusUnprocessableEntity, "checkpoint %d (root %x) is not consistent with checkpoint %d (root %x): %v",
				cp.Size, cp.Root, oldSize, last.Root, err)
		}
	}
	cosigned, err := note.Sign(n, w.signer)
	if err != nil {
		return nil, werr(http.StatusInternalServerError, "cosign: %v", err)
	}
	lines, err := ownLines(cosigned, w.signer)
	if err != nil {
		return nil, werr(http.StatusInternalServerError, "cosign: %v", err)
	}
	if err := w.persist(cp.Origin, witnessRecord{Size: cp.Size, Root: cp.Root, Note: string(cosigned)}); err != nil {
		return nil, werr(http.StatusInternalServerError, "persist: %v", err)
	}
	return lines, nil
}

// ownLines picks the signature lines of signer out of a signed note.
func ownLines(signed []byte, signer note.Signer) ([]byte, error) {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return nil, errors.New("not a signed note")
	}
	var out []byte
	for _, line := range bytes.SplitAfter(signed[i+2:], []byte("\n")) {
		if bytes.HasPrefix(line, []byte("— "+signer.Name()+" ")) {
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(line[len("— "+signer.Name()+" "):])))
			if err == nil && len(raw) >= 4 && binary.BigEndian.Uint32(raw) == signer.KeyHash() {
				out = append(out, line...)
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no signature of the witness's key")
	}
	return out, nil
}

// persist records a log's new latest checkpoint, on disk before it returns.
func (w *Witness) persist(origin string, r witnessRecord) error {
	next := make(map[string]witnessRecord, len(w.state)+1)
	for k, v := range w.state {
		next[k] = v
	}
	next[origin] = r
	if w.statePath != "" {
		b, err := json.MarshalIndent(next, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFileAtomic(w.statePath, append(b, '\n'), 0o600); err != nil {
			return err
		}
	}
	w.state = next
	return nil
}

// parseCheckpointText reads a checkpoint body: origin, size, root lines.
func parseCheckpointText(text string) (Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 || lines[0] == "" {
		return Checkpoint{}, errors.New("checkpoint: want origin, size and root lines")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || (len(lines[1]) > 1 && lines[1][0] == '0') {
		return Checkpoint{}, fmt.Errorf("checkpoint size %q is not a decimal", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return Checkpoint{}, errors.New("checkpoint root is not a base64 hash")
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root}, nil
}

// maxAddCheckpoint bounds a request body: 63 proof lines, a checkpoint and
// its signatures fit well within it.
const maxAddCheckpoint = 64 << 10

// ParseAddCheckpoint reads an add-checkpoint request body: "old N", the
// consistency proof lines, an empty line, the signed checkpoint.
func ParseAddCheckpoint(body []byte) (uint64, [][]byte, []byte, error) {
	head, signed, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return 0, nil, nil, werr(http.StatusBadRequest, "want an old size line, proof lines, an empty line and the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	num, ok := strings.CutPrefix(lines[0], "old ")
	old, err := strconv.ParseUint(num, 10, 64)
	if !ok || err != nil || (len(num) > 1 && num[0] == '0') {
		return 0, nil, nil, werr(http.StatusBadRequest, "the first line must be \"old <size>\"")
	}
	var proof [][]byte
	for _, l := range lines[1:] {
		h, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(h) == 0 {
			return 0, nil, nil, werr(http.StatusBadRequest, "a consistency proof line is not a base64 hash")
		}
		proof = append(proof, h)
	}
	return old, proof, signed, nil
}

// AddCheckpointBody is the request body of add-checkpoint.
func AddCheckpointBody(old uint64, consistency [][]byte, signed []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range consistency {
		b.WriteString(base64.StdEncoding.EncodeToString(h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(signed)
	return b.Bytes()
}

// Handler serves the witness: POST /add-checkpoint, and the latest
// cosigned checkpoint of each log at GET /{hex SHA-256 of the origin}/checkpoint.
func (w *Witness) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxAddCheckpoint))
		if err != nil {
			http.Error(rw, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		old, p, signed, err := ParseAddCheckpoint(body)
		var lines []byte
		if err == nil {
			lines, err = w.AddCheckpoint(old, p, signed)
		}
		var we *WitnessError
		switch {
		case err == nil:
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rw.Write(lines)
		case errors.As(err, &we) && we.Status == http.StatusConflict:
			rw.Header().Set("Content-Type", "text/x.tlog.size")
			rw.WriteHeader(http.StatusConflict)
			fmt.Fprintf(rw, "%d\n", we.Size)
		case errors.As(err, &we):
			http.Error(rw, we.Msg, we.Status)
		default:
			http.Error(rw, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /{hash}/checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		var found string
		for origin, rec := range w.state {
			sum := sha256.Sum256([]byte(origin))
			if hex.EncodeToString(sum[:]) == r.PathValue("hash") {
				found = rec.Note
			}
		}
		w.mu.Unlock()
		if found == "" {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(rw, found)
	})
	return mux
}

// SubmitCheckpoint sends a checkpoint to a witness at url (its submission
// prefix) and returns the cosignature lines, verified with the witness's
// key wv; a refusal is a *WitnessError (409 carries the witness's size).
func SubmitCheckpoint(ctx context.Context, client *http.Client, url string, wv note.Verifier, lv note.Verifier, old uint64, consistency [][]byte, signed []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(url, "/")+"/add-checkpoint",
		bytes.NewReader(AddCheckpointBody(old, consistency, signed)))
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAddCheckpoint))
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusConflict:
		size, err := strconv.ParseUint(strings.TrimSpace(string(body)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("witness %s: a 409 without a size", url)
		}
		return nil, &WitnessError{Status: resp.StatusCode, Size: size, Msg: "old size refused"}
	default:
		return nil, &WitnessError{Status: resp.StatusCode, Msg: strings.TrimSpace(string(body))}
	}
	// Keep only the lines that verify as the witness's cosignature.
	var whole bytes.Buffer
	whole.Write(bytes.TrimRight(signed, "\n"))
	whole.WriteByte('\n')
	whole.Write(body)
	n, err := note.Open(whole.Bytes(), note.VerifierList(lv, wv))
	if err != nil {
		return nil, fmt.Errorf("witness %s: its answer does not verify: %w", url, err)
	}
	var out []byte
	for _, s := range n.Sigs {
		if s.Name == wv.Name() && s.Hash == wv.KeyHash() {
			out = append(out, "— "+s.Name+" "+s.Base64+"\n"...)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("witness %s: no cosignature of its key in the answer", url)
	}
	return out, nil
}
