package sandbox

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/store"
)

// KeyFile is where LoadKey keeps the manifest signing key in the data
// directory.
const KeyFile = "sandbox_manifest.key"

// LoadKey reads the Ed25519 key that signs release manifests from the data
// directory, creating it (mode 0600) on first use.
func LoadKey(dataDir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dataDir, KeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("manifest key: %w", err)
		}
		out := pem.EncodeToMemory(&pem.Block{Type: "GONGSHU SANDBOX ED25519 SEED", Bytes: priv.Seed()})
		if err := os.WriteFile(path, out, 0o600); err != nil {
			return nil, fmt.Errorf("manifest key: %w", err)
		}
		return priv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("manifest key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || len(blk.Bytes) != ed25519.SeedSize {
		return nil, fmt.Errorf("manifest key %s: not an Ed25519 seed", path)
	}
	return ed25519.NewKeyFromSeed(blk.Bytes), nil
}

// Manifest describes a released result; its signature lets anyone holding
// the platform's public key check that the result left the domain through
// the sandbox, unchanged, and to whom (R12.2, R15.1).
type Manifest struct {
	Format      string   `json:"format"`
	Job         int64    `json:"job"`
	Workspace   int64    `json:"workspace"`
	Agreement   int64    `json:"agreement"`
	Operator    int64    `json:"operator"`
	QueryHash   string   `json:"query_hash"`
	Fingerprint string   `json:"fingerprint"`
	Resources   []string `json:"resources"`
	Rule        string   `json:"rule"`
	Epsilon     float64  `json:"epsilon"`
	Rows        int      `json:"rows"`
	ResultHash  string   `json:"result_hash"`
	// Recipient fingerprints the receiving operator and user: a copy that
	// turns up elsewhere names who let it out (R15.1).
	Recipient  string `json:"recipient"`
	ReleasedAt string `json:"released_at"`
}

// ManifestFormat names the manifest's version.
const ManifestFormat = "gongshu-sandbox-manifest/1"

// recipient is an HMAC, under a key derived from the signing key, of who
// receives the result; it cannot be forged without the key, nor reversed.
func (s *Service) recipient(j *Job) string {
	k := sha256.Sum256(append([]byte("gongshu recipient\x00"), s.key.Seed()...))
	m := hmac.New(sha256.New, k[:])
	fmt.Fprintf(m, "%d/%d/%d", j.operatorOrgID, j.userID, j.ID)
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// sign builds and signs the job's manifest and stores it with the job.
func (s *Service) sign(ctx context.Context, tx *store.Tx, j *Job, at time.Time) error {
	qh := sha256.Sum256([]byte(j.SQL))
	j.Recipient = s.recipient(j)
	m := Manifest{Format: ManifestFormat, Job: j.ID, Workspace: j.WorkspaceID, Agreement: j.agreementID, Operator: j.operatorOrgID,
		QueryHash: hex.EncodeToString(qh[:]), Fingerprint: j.Fingerprint, Resources: j.Resources, Rule: j.Rule,
		Epsilon: float64(j.epsMicros) / 1e6, Rows: len(j.Rows), ResultHash: j.ResultHash, Recipient: j.Recipient,
		ReleasedAt: at.UTC().Format(time.RFC3339)}
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("sign manifest: %w", err)
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, raw))
	if _, err := tx.Exec(ctx, "UPDATE sandbox_jobs SET manifest = ?, signature = ?, recipient = ? WHERE id = ?",
		string(raw), sig, j.Recipient, j.ID); err != nil {
		return fmt.Errorf("sign manifest: %w", err)
	}
	j.Manifest, j.Signature = &m, sig
	return nil
}

// VerifyManifest checks a manifest's signature with the platform's key.
func VerifyManifest(pub ed25519.PublicKey, m Manifest, signature string) bool {
	raw, err := json.Marshal(m)
	if err != nil {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(signature))
	return err == nil && ed25519.Verify(pub, raw, sig)
}

func id64(n int64) string { return strconv.FormatInt(n, 10) }
