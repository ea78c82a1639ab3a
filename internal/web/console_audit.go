package web

import (
	"encoding/json"
	"net/http"

	"github.com/transparency-dev/merkle/proof"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
)

type auditEntryData struct {
	Entry     audit.Entry
	Details   string
	LeafIndex uint64
	LeafHash  []byte
	// Verified is set when the person asked to verify: the proof and the
	// result of checking it against the signed checkpoint with the public key.
	Verify     bool
	Proof      [][]byte
	Checkpoint audit.Checkpoint
	VerifyErr  string
	Key        string
}

// auditEntryPage shows one entry and, on request, verifies it: fetches its
// inclusion proof and the latest checkpoint, checks the checkpoint's
// signature with the log's public key and the proof against its root, the
// same steps an offline verifier takes.
func (s *Server) auditEntryPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Show an entry written a moment ago without waiting for the integrator.
	if _, err := s.tree.Integrate(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	e, idx, hash, ok := s.readableEntry(w, r, p, id)
	if !ok {
		return
	}
	d := auditEntryData{Entry: e, LeafIndex: idx, LeafHash: hash, Key: s.tree.VerifierKey()}
	if b, err := json.MarshalIndent(e.Details, "", "  "); err == nil && len(e.Details) > 0 {
		d.Details = string(b)
	}
	if r.URL.Query().Get("verify") == "1" {
		d.Verify = true
		d.VerifyErr = s.verifyEntry(r, &d)
	}
	s.render(w, r, http.StatusOK, "audit_entry", d)
}

func (s *Server) verifyEntry(r *http.Request, d *auditEntryData) string {
	ctx := r.Context()
	latest, err := s.tree.Latest(ctx)
	if err != nil {
		return err.Error()
	}
	if d.Proof, err = s.tree.InclusionProof(ctx, d.LeafIndex, latest.Size); err != nil {
		return err.Error()
	}
	v, err := audit.NewVerifier(d.Key)
	if err != nil {
		return err.Error()
	}
	if d.Checkpoint, err = audit.ParseCheckpoint([]byte(latest.Note), v); err != nil {
		return err.Error()
	}
	if err := proof.VerifyInclusion(s.tree.Suite().Hasher(), d.LeafIndex, d.Checkpoint.Size, d.LeafHash, d.Proof, d.Checkpoint.Root); err != nil {
		return err.Error()
	}
	return ""
}

func (s *Server) alarmAcknowledge(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.authorize(w, r, p, identity.ActAuditAck, identity.Object{}) {
		return
	}
	if err := s.tree.Acknowledge(r.Context(), p.Actor(), id, r.PostFormValue("statement")); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/audit", http.StatusSeeOther)
}
