package web

import (
	"net/http"
	"strconv"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
)

// The log's checkpoint, public key and consistency proofs are public: they
// reveal nothing of the entries, and anyone watching the platform (the
// public included) must be able to check that the log only grows.

type checkpointJSON struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root"`
	Note   string `json:"note"`
	At     string `json:"at,omitempty"`
}

func toCheckpointJSON(cp audit.Checkpoint) checkpointJSON {
	j := checkpointJSON{Origin: cp.Origin, Size: cp.Size, Root: cp.Root, Note: cp.Note}
	if !cp.At.IsZero() {
		j.At = cp.At.UTC().Format(audit.TimeLayout)
	}
	return j
}

func (s *Server) apiAuditCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := s.tree.Latest(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toCheckpointJSON(cp))
}

func (s *Server) apiAuditKey(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"origin": s.tree.Origin(), "suite": string(s.tree.Suite()), "verifier_key": s.tree.VerifierKey(),
	})
}

func queryUint(r *http.Request, name string) (uint64, error) {
	v := r.URL.Query().Get(name)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, apperr.New(apperr.Invalid, "web.bad_number", "name", name, "value", v).OnField(name)
	}
	return n, nil
}

func (s *Server) apiAuditConsistency(w http.ResponseWriter, r *http.Request) {
	from, err := queryUint(r, "from")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	to, err := queryUint(r, "to")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.tree.ConsistencyProof(r.Context(), from, to)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "proof": p})
}

type entryProof struct {
	Entry      audit.Entry    `json:"entry"`
	LeafIndex  uint64         `json:"leaf_index"`
	LeafHash   []byte         `json:"leaf_hash"`
	Proof      [][]byte       `json:"proof"`
	Checkpoint checkpointJSON `json:"checkpoint"`
}

// apiAuditEntryProof proves one entry is in the log: the entry as the
// caller may read it, its leaf, and the inclusion proof against the latest
// checkpoint (or ?size=).
func (s *Server) apiAuditEntryProof(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	e, idx, hash, ok := s.readableEntry(w, r, p, id)
	if !ok {
		return
	}
	cp, err := s.tree.Latest(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.URL.Query().Has("size") {
		if cp.Size, err = queryUint(r, "size"); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	proof, err := s.tree.InclusionProof(ctx, idx, cp.Size)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, entryProof{Entry: e, LeafIndex: idx, LeafHash: hash, Proof: proof, Checkpoint: toCheckpointJSON(cp)})
}

type ackRequest struct {
	Statement string `json:"statement"`
}

func (s *Server) apiAuditAcknowledge(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.refuseBody(w, r, audit.ActionAcknowledge, "audit_alarm", err)
		return
	}
	if !s.authorize(w, r, p, identity.ActAuditAck, identity.Object{}) {
		return
	}
	var in ackRequest
	if err := decode(r, &in); err != nil {
		s.refuseBody(w, r, audit.ActionAcknowledge, "audit_alarm", err)
		return
	}
	if err := s.tree.Acknowledge(r.Context(), p.Actor(), id, in.Statement); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiAuditCheckpointAt(w http.ResponseWriter, r *http.Request) {
	size, err := strconv.ParseUint(r.PathValue("size"), 10, 64)
	if err != nil {
		s.fail(w, r, apperr.New(apperr.Invalid, "web.bad_number", "name", "size", "value", r.PathValue("size")).OnField("size"))
		return
	}
	cp, err := s.tree.CheckpointAt(r.Context(), size)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toCheckpointJSON(cp))
}

type cosignRequest struct {
	Note string `json:"note"`
}

// apiAuditCosign accepts a checkpoint countersigned by a registered cosigner.
func (s *Server) apiAuditCosign(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if !s.authorize(w, r, p, identity.ActAuditCosign, identity.Object{}) {
		return
	}
	var in cosignRequest
	if err := decode(r, &in); err != nil {
		s.refuseBody(w, r, "audit.cosign", "audit_checkpoint", err)
		return
	}
	n, err := s.tree.Cosign(r.Context(), p.Actor(), in.Note)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"stored": n})
}

func (s *Server) apiAuditCosigners(w http.ResponseWriter, r *http.Request) {
	cs, err := s.tree.Cosigners(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cs == nil {
		cs = []audit.Cosigner{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"cosigners": cs})
}

type cosignerRequest struct {
	VerifierKey string `json:"verifier_key"`
	OrgID       int64  `json:"org_id"`
}

func (s *Server) apiAuditAddCosigner(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if !s.authorize(w, r, p, identity.ActAuditCosigners, identity.Object{}) {
		return
	}
	var in cosignerRequest
	if err := decode(r, &in); err != nil {
		s.refuseBody(w, r, "audit.cosigner.add", "audit_cosigner", err)
		return
	}
	c, err := s.tree.AddCosigner(r.Context(), p.Actor(), in.VerifierKey, in.OrgID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

// readableEntry finds an integrated entry with its leaf, if p may read it
// (everyone reads their own organisation's; the overseeing roles read all).
// On a refusal or an error it has answered and reports false.
func (s *Server) readableEntry(w http.ResponseWriter, r *http.Request, p *identity.Principal, id int64) (audit.Entry, uint64, []byte, bool) {
	idx, err := s.tree.LeafIndex(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return audit.Entry{}, 0, nil, false
	}
	e, hash, err := s.tree.Leaf(r.Context(), idx)
	if err != nil {
		s.fail(w, r, err)
		return audit.Entry{}, 0, nil, false
	}
	if identity.Authorize(s.regions, *p, identity.ActAuditReadAll, identity.Object{}) != nil &&
		!s.authorize(w, r, p, identity.ActAuditRead, identity.Object{OrgID: e.Actor.OrgID}) {
		return audit.Entry{}, 0, nil, false
	}
	return e, idx, hash, true
}
