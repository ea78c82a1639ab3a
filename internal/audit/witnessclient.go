package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/store"
)

// WitnessEndpoint is a witness the platform submits its checkpoints to.
type WitnessEndpoint struct {
	URL         string // the witness's submission prefix
	VerifierKey string // its cosignature/v1 public key
}

// ParseWitnessEndpoint reads a --witness value: URL=VKEY.
func ParseWitnessEndpoint(s string) (WitnessEndpoint, error) {
	url, vkey, ok := strings.Cut(s, "=")
	if !ok || !(strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")) {
		return WitnessEndpoint{}, fmt.Errorf("--witness %q: want URL=KEY (the witness's address and its public key)", s)
	}
	if !IsWitnessKey(vkey) {
		return WitnessEndpoint{}, fmt.Errorf("--witness %q: %q is not a witness key (cosignature/v1, as gongshu witness prints)", s, vkey)
	}
	if _, err := NewVerifier(vkey); err != nil {
		return WitnessEndpoint{}, fmt.Errorf("--witness %q: %w", s, err)
	}
	return WitnessEndpoint{URL: url, VerifierKey: vkey}, nil
}

// witnessClient submits this log's checkpoints to one witness.
type witnessClient struct {
	ep       WitnessEndpoint
	verifier note.Verifier
	cosigner int64 // its row in audit_cosigners
	wake     chan struct{}

	mu     sync.Mutex
	known  uint64 // the witness's latest size for this log, as far as known
	status WitnessStatus
}

// WitnessStatus is how a witness is keeping up, for the console and logs.
type WitnessStatus struct {
	Name       string    `json:"name"`
	URL        string    `json:"url"`
	Cosigned   uint64    `json:"cosigned_size"` // the latest size it cosigned
	CosignedAt time.Time `json:"cosigned_at,omitzero"`
	Error      string    `json:"error,omitempty"` // its last refusal or failure
}

// AddWitnesses registers the witnesses the log submits its checkpoints
// to, as cosigners whose cosignatures are published with the checkpoints
// (registering a new one is audited). Call it before RunWitnesses.
func (t *Tree) AddWitnesses(ctx context.Context, eps []WitnessEndpoint) error {
	for _, ep := range eps {
		v, err := NewVerifier(ep.VerifierKey)
		if err != nil {
			return err
		}
		c := &witnessClient{ep: ep, verifier: v, wake: make(chan struct{}, 1), status: WitnessStatus{Name: v.Name(), URL: ep.URL}}
		cs, err := t.Cosigners(ctx)
		if err != nil {
			return err
		}
		for _, have := range cs {
			if have.Name == v.Name() {
				if have.VerifierKey != ep.VerifierKey {
					return fmt.Errorf("audit: witness %s is registered with another key (%s): a witness's key never changes; give the new key a new name", v.Name(), have.VerifierKey)
				}
				c.cosigner = have.ID
			}
		}
		if c.cosigner == 0 {
			added, err := t.AddCosigner(ctx, System, ep.VerifierKey, 0)
			if err != nil && !apperr.IsCode(err, apperr.Conflict) {
				return fmt.Errorf("audit: register witness %s: %w", v.Name(), err)
			}
			c.cosigner = added.ID
		}
		var known int64
		if err := t.db.QueryRow(ctx, "SELECT COALESCE(MAX(size), 0) FROM audit_cosignatures WHERE cosigner_id = ?", c.cosigner).Scan(&known); err != nil {
			return err
		}
		c.known, c.status.Cosigned = uint64(known), uint64(known)
		t.mu.Lock()
		t.witnesses = append(t.witnesses, c)
		t.mu.Unlock()
	}
	return nil
}

// notifyWitnesses tells each witness's loop a new checkpoint was signed,
// without ever blocking the integrator.
func (t *Tree) notifyWitnesses() {
	for _, c := range t.witnesses {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// WitnessStatuses reports each witness's progress.
func (t *Tree) WitnessStatuses() []WitnessStatus {
	t.mu.Lock()
	ws := append([]*witnessClient(nil), t.witnesses...)
	t.mu.Unlock()
	out := make([]WitnessStatus, len(ws))
	for i, c := range ws {
		c.mu.Lock()
		out[i] = c.status
		c.mu.Unlock()
	}
	return out
}

// RunWitnesses submits every new checkpoint to each witness until ctx
// ends, one loop per witness, woken by each integration and at least
// every interval. It runs beside the integrator, never in an append's
// path: a slow or absent witness delays only its own cosignatures. A
// witness that holds a larger tree than the store, or refuses the store's
// tree as inconsistent with the one it cosigned, proves a rollback or a
// fork: the log is then sealed like one found against the kept checkpoint.
func (t *Tree) RunWitnesses(ctx context.Context, client *http.Client, interval time.Duration) {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t.mu.Lock()
	ws := append([]*witnessClient(nil), t.witnesses...)
	t.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				if err := t.submit(ctx, client, c); err != nil && ctx.Err() == nil {
					t.logger.Warn("audit: witness", "witness", c.status.Name, "err", err)
				}
				select {
				case <-ctx.Done():
					return
				case <-c.wake:
				case <-tick.C:
				}
			}
		}()
	}
	wg.Wait()
}

// submit brings one witness up to the latest checkpoint.
func (t *Tree) submit(ctx context.Context, client *http.Client, c *witnessClient) error {
	for attempt := 0; attempt < 3; attempt++ {
		var size int64
		var signed string
		if err := t.db.QueryRow(ctx, "SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1").Scan(&size, &signed); err != nil {
			return nil // nothing signed yet
		}
		c.mu.Lock()
		old := c.known
		c.mu.Unlock()
		if uint64(size) == old && old > 0 {
			var have int
			if err := t.db.QueryRow(ctx, "SELECT COUNT(*) FROM audit_cosignatures WHERE size = ? AND cosigner_id = ?", size, c.cosigner).Scan(&have); err != nil {
				return err
			}
			if have > 0 {
				return nil
			}
		}
		var proof [][]byte
		if old > 0 && old < uint64(size) {
			var err error
			if proof, err = t.ConsistencyProof(ctx, old, uint64(size)); err != nil {
				return fmt.Errorf("consistency proof %d→%d: %w", old, size, err)
			}
		}
		if old > uint64(size) {
			return t.witnessAhead(ctx, c, old)
		}
		lines, err := SubmitCheckpoint(ctx, client, c.ep.URL, c.verifier, t.verifier, old, proof, []byte(signed))
		var we *WitnessError
		switch {
		case err == nil:
			if err := t.storeCosignature(ctx, c, uint64(size), lines); err != nil {
				return err
			}
			c.mu.Lock()
			c.known = uint64(size)
			c.status.Cosigned, c.status.CosignedAt, c.status.Error = uint64(size), t.now().UTC(), ""
			c.mu.Unlock()
			return nil
		case errors.As(err, &we) && we.Status == http.StatusConflict:
			c.mu.Lock()
			c.known = we.Size
			c.mu.Unlock()
			if we.Size > uint64(size) {
				return t.witnessAhead(ctx, c, we.Size)
			}
			continue // resubmit from the witness's size
		case errors.As(err, &we) && we.Status == http.StatusUnprocessableEntity:
			c.setError(err)
			return t.witnessRefused(ctx, c, old, err)
		default:
			c.setError(err)
			return err
		}
	}
	return errors.New("the witness keeps changing its size")
}

func (c *witnessClient) setError(err error) {
	c.mu.Lock()
	c.status.Error = err.Error()
	c.mu.Unlock()
}

// storeCosignature keeps a witness's cosignature lines for a checkpoint.
// Commit lazily: a cosignature lost in a crash is made again for the next
// checkpoint, and the write lock stays with the appends.
func (t *Tree) storeCosignature(ctx context.Context, c *witnessClient, size uint64, lines []byte) error {
	return t.db.InTxLazy(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO audit_cosignatures (size, cosigner_id, signature, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
			int64(size), c.cosigner, string(bytes.TrimSpace(lines))+"\n", storedTime(t.now()))
		return err
	})
}

// witnessAhead handles a witness that holds a larger tree than the store:
// unless the store has meanwhile caught up (another server signed), the
// store was rolled back.
func (t *Tree) witnessAhead(ctx context.Context, c *witnessClient, theirs uint64) error {
	var size int64
	if err := t.db.QueryRow(ctx, "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM audit_leaves").Scan(&size); err != nil {
		return err
	}
	if uint64(size) >= theirs {
		return nil // another server's checkpoint: the next round submits it
	}
	rb := &RollbackError{Path: "witness " + c.status.Name, Kept: Checkpoint{Origin: t.origin, Size: theirs}, StoreSize: uint64(size)}
	c.setError(rb)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rollback == nil {
		t.rollback = rb
		t.sealRollback(ctx)
	}
	return rb
}

// witnessRefused handles a witness that found the store's tree
// inconsistent with the checkpoint it cosigned: a fork.
func (t *Tree) witnessRefused(ctx context.Context, c *witnessClient, old uint64, cause error) error {
	root, _ := t.rootAt(ctx, old)
	rb := &RollbackError{Path: "witness " + c.status.Name, Kept: Checkpoint{Origin: t.origin, Size: old}, Forked: true, StoreRoot: root}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rollback == nil {
		t.rollback = rb
		t.sealRollback(ctx)
	}
	return errors.Join(rb, cause)
}
