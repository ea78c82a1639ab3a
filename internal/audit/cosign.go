package audit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/store"
)

// Cosigner is an outside party whose signatures on checkpoints the log
// accepts and publishes.
type Cosigner struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	VerifierKey string `json:"verifier_key"`
	OrgID       int64  `json:"org_id,omitempty"`
}

// AddCosigner registers a cosigner's public key. The caller has checked
// that actor may (the platform administrator).
func (t *Tree) AddCosigner(ctx context.Context, actor Actor, vkey string, orgID int64) (Cosigner, error) {
	e := Entry{Actor: actor, Action: "audit.cosigner.add", ObjectType: "audit_cosigner"}
	e.Set("verifier_key", vkey)
	v, err := NewVerifier(vkey)
	if err != nil {
		return Cosigner{}, t.log.Refuse(ctx, e, apperr.New(apperr.Invalid, "audit.cosigner_key_invalid").OnField("verifier_key").Wrap(err))
	}
	if v.Name() == t.origin {
		return Cosigner{}, t.log.Refuse(ctx, e, apperr.New(apperr.Invalid, "audit.cosigner_is_log").OnField("verifier_key"))
	}
	c := Cosigner{Name: v.Name(), VerifierKey: vkey, OrgID: orgID}
	err = t.log.Do(ctx, e, func(tx *store.Tx, e *Entry) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM audit_cosigners WHERE name = ?", c.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return apperr.New(apperr.Conflict, "audit.cosigner_exists", "name", c.Name)
		}
		id, err := tx.InsertID(ctx, "INSERT INTO audit_cosigners (name, verifier_key, org_id, added_by, added_at) VALUES (?, ?, ?, ?, ?)",
			c.Name, vkey, nullID(orgID), actor.Login, storedTime(t.now()))
		c.ID = id
		e.ObjectID = strconv.FormatInt(id, 10)
		return err
	})
	return c, err
}

// Cosigners lists the registered cosigners.
func (t *Tree) Cosigners(ctx context.Context) ([]Cosigner, error) {
	rows, err := t.db.Query(ctx, "SELECT id, name, verifier_key, COALESCE(org_id, 0) FROM audit_cosigners ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("audit: cosigners: %w", err)
	}
	defer rows.Close()
	var out []Cosigner
	for rows.Next() {
		var c Cosigner
		if err := rows.Scan(&c.ID, &c.Name, &c.VerifierKey, &c.OrgID); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Cosign accepts a checkpoint that carries the log's own signature and one
// or more registered cosigners' signatures over the same text, and stores
// the cosignatures. It returns how many new cosignatures it stored.
func (t *Tree) Cosign(ctx context.Context, actor Actor, signed string) (int, error) {
	e := Entry{Actor: actor, Action: "audit.cosign", ObjectType: "audit_checkpoint"}
	cosigners, err := t.Cosigners(ctx)
	if err != nil {
		return 0, t.log.Refuse(ctx, e, err)
	}
	verifiers := []note.Verifier{t.verifier}
	byName := map[string]Cosigner{}
	for _, c := range cosigners {
		v, err := NewVerifier(c.VerifierKey)
		if err != nil {
			return 0, t.log.Refuse(ctx, e, err)
		}
		verifiers = append(verifiers, v)
		byName[c.Name] = c
	}
	n, err := note.Open([]byte(signed), note.VerifierList(verifiers...))
	if err != nil {
		return 0, t.log.Refuse(ctx, e, apperr.New(apperr.Invalid, "audit.cosign_unverified").Wrap(err))
	}
	cp, err := ParseCheckpoint([]byte(signed), verifiers...)
	if err != nil {
		return 0, t.log.Refuse(ctx, e, apperr.New(apperr.Invalid, "audit.cosign_unverified").Wrap(err))
	}
	e.ObjectID = strconv.FormatUint(cp.Size, 10)
	var logSigned bool
	var cosigs []note.Signature
	for _, s := range n.Sigs {
		if s.Name == t.origin {
			logSigned = true
		} else if _, ok := byName[s.Name]; ok {
			cosigs = append(cosigs, s)
		}
	}
	if !logSigned || len(cosigs) == 0 {
		return 0, t.log.Refuse(ctx, e, apperr.New(apperr.Invalid, "audit.cosign_unverified"))
	}
	stored := 0
	err = t.log.Do(ctx, e, func(tx *store.Tx, e *Entry) error {
		var text string
		if err := tx.QueryRow(ctx, "SELECT note FROM audit_checkpoints WHERE size = ?", int64(cp.Size)).Scan(&text); err != nil {
			return apperr.New(apperr.NotFound, "audit.cosign_unknown_checkpoint", "size", e.ObjectID).Wrap(err)
		}
		if !strings.HasPrefix(text, n.Text) {
			return apperr.New(apperr.Invalid, "audit.cosign_unverified")
		}
		for _, s := range cosigs {
			var have int
			c := byName[s.Name]
			if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM audit_cosignatures WHERE size = ? AND cosigner_id = ?", int64(cp.Size), c.ID).Scan(&have); err != nil {
				return err
			}
			if have > 0 {
				continue
			}
			line := "— " + s.Name + " " + s.Base64 + "\n"
			if _, err := tx.Exec(ctx, "INSERT INTO audit_cosignatures (size, cosigner_id, signature, created_at) VALUES (?, ?, ?, ?)",
				int64(cp.Size), c.ID, line, storedTime(t.now())); err != nil {
				return err
			}
			stored++
			e.Set("cosigner."+s.Name, true)
		}
		return nil
	})
	return stored, err
}

// withCosignatures appends the stored cosignature lines of a checkpoint to
// its note, so the published checkpoint carries every signature.
func (t *Tree) withCosignatures(ctx context.Context, size uint64, signed string) (string, error) {
	rows, err := t.db.Query(ctx, "SELECT signature FROM audit_cosignatures WHERE size = ? ORDER BY cosigner_id", int64(size))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	b.WriteString(signed)
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		b.WriteString(line)
	}
	return b.String(), rows.Err()
}

// CheckpointAt returns the checkpoint of one size with all its signatures.
func (t *Tree) CheckpointAt(ctx context.Context, size uint64) (Checkpoint, error) {
	var cp Checkpoint
	err := t.db.QueryRow(ctx, "SELECT root, note, created_at FROM audit_checkpoints WHERE size = ?", int64(size)).Scan(&cp.Root, &cp.Note, &cp.At)
	if err != nil {
		return Checkpoint{}, apperr.New(apperr.NotFound, "audit.cosign_unknown_checkpoint", "size", strconv.FormatUint(size, 10)).Wrap(err)
	}
	cp.Size, cp.Origin, cp.At = size, t.origin, cp.At.UTC()
	if cp.Note, err = t.withCosignatures(ctx, size, cp.Note); err != nil {
		return Checkpoint{}, err
	}
	return cp, nil
}

// CosignNote adds a signature by skey (a note private key, SM2 or Ed25519)
// to a signed checkpoint: what a cosigner runs on its own machine.
func CosignNote(signed, skey string) (string, error) {
	signer, _, err := ParseSigner(skey)
	if err != nil {
		return "", err
	}
	// Open without verifying (the cosigner checks the log's signature with
	// the log's key separately) to keep the existing signatures.
	n, err := note.Open([]byte(signed), note.VerifierList())
	var unverified *note.UnverifiedNoteError
	switch {
	case errors.As(err, &unverified):
		n = unverified.Note
	case err != nil:
		return "", fmt.Errorf("cosign: not a signed note: %w", err)
	}
	out, err := note.Sign(n, signer)
	return string(out), err
}
