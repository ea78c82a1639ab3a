package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Witness cosignatures follow C2SP tlog-cosignature (cosignature/v1): an
// Ed25519 signature, made at a stated time, over
//
//	cosignature/v1
//	time <POSIX seconds>
//	<the checkpoint body>
//
// carried in a note signature line as base64(key ID || 8-byte big-endian
// time || 64-byte signature). The key ID is the first four bytes of
// SHA-256(name || "\n" || 0x04 || public key). Witnesses cosign with
// Ed25519 whatever the log signs its checkpoints with (SM2 by default):
// the cosignature format has no SM2 variant, and the witness's key is its
// own, not the log's.

// cosigAlg is the signed-note algorithm byte of cosignature/v1 (Ed25519).
const cosigAlg = 0x04

// cosigHeader starts every cosigned message.
const cosigHeader = "cosignature/v1\n"

// cosignedMessage is what a witness signs at time ts over a checkpoint body.
func cosignedMessage(ts uint64, body []byte) []byte {
	msg := make([]byte, 0, len(cosigHeader)+32+len(body))
	msg = append(msg, cosigHeader...)
	msg = append(msg, "time "...)
	msg = strconv.AppendUint(msg, ts, 10)
	msg = append(msg, '\n')
	return append(msg, body...)
}

// GenerateWitnessKey makes a witness's key pair: the private key string
// (PRIVATE+KEY+name+hash+base64(0x04 || seed)) and the verifier key
// (name+hash+base64(0x04 || public key)).
func GenerateWitnessKey(name string) (skey, vkey string, err error) {
	if name == "" || strings.ContainsAny(name, " +\n") {
		return "", "", errors.New("audit: a witness name has no spaces, + or newlines")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	key := append([]byte{cosigAlg}, pub...)
	h := keyHash(name, key)
	skey = fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append([]byte{cosigAlg}, priv.Seed()...)))
	vkey = fmt.Sprintf("%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(key))
	return skey, vkey, nil
}

// WitnessSigner makes timestamped cosignatures.
type WitnessSigner struct {
	name string
	hash uint32
	priv ed25519.PrivateKey
	vkey string
	now  func() time.Time
}

// ParseWitnessSigner reads a witness's private key string; now is the
// clock its cosignatures are stamped with (nil: the system's).
func ParseWitnessSigner(skey string, now func() time.Time) (*WitnessSigner, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return nil, errors.New("audit: malformed witness key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != cosigAlg {
		return nil, errors.New("audit: not a witness key (want a cosignature/v1 Ed25519 key, as gongshu witness makes)")
	}
	priv := ed25519.NewKeyFromSeed(raw[1:])
	key := append([]byte{cosigAlg}, priv.Public().(ed25519.PublicKey)...)
	h := keyHash(parts[2], key)
	if want, err := strconv.ParseUint(parts[3], 16, 32); err != nil || uint32(want) != h {
		return nil, errors.New("audit: witness key hash does not match the key")
	}
	if now == nil {
		now = time.Now
	}
	return &WitnessSigner{name: parts[2], hash: h, priv: priv, now: now,
		vkey: fmt.Sprintf("%s+%08x+%s", parts[2], h, base64.StdEncoding.EncodeToString(key))}, nil
}

func (s *WitnessSigner) Name() string    { return s.name }
func (s *WitnessSigner) KeyHash() uint32 { return s.hash }

// VerifierKey is the witness's public key string.
func (s *WitnessSigner) VerifierKey() string { return s.vkey }

// Sign cosigns a checkpoint body at the current time.
func (s *WitnessSigner) Sign(body []byte) ([]byte, error) {
	ts := uint64(s.now().Unix())
	sig := make([]byte, 8, 8+ed25519.SignatureSize)
	binary.BigEndian.PutUint64(sig, ts)
	return append(sig, ed25519.Sign(s.priv, cosignedMessage(ts, body))...), nil
}

// cosigVerifier checks cosignature/v1 signatures.
type cosigVerifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.hash }

func (v *cosigVerifier) Verify(body, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig)
	if ts == 0 || ts > 1<<63-1 {
		return false
	}
	return ed25519.Verify(v.pub, cosignedMessage(ts, body), sig[8:])
}

func newCosigVerifier(name string, key []byte, hash uint32) (note.Verifier, error) {
	if len(key) != 1+ed25519.PublicKeySize {
		return nil, errors.New("audit: malformed witness verifier key")
	}
	if keyHash(name, key) != hash {
		return nil, errors.New("audit: verifier key hash does not match the key")
	}
	return &cosigVerifier{name: name, hash: hash, pub: ed25519.PublicKey(key[1:])}, nil
}

// IsWitnessKey reports whether a verifier key is a witness's
// (cosignature/v1) key.
func IsWitnessKey(vkey string) bool {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return false
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	return err == nil && len(key) > 0 && key[0] == cosigAlg
}

// CosignatureTime reads the time a cosignature line's signature states,
// given the witness's verifier (it does not verify the signature).
func CosignatureTime(sig note.Signature) (time.Time, bool) {
	raw, err := base64.StdEncoding.DecodeString(sig.Base64)
	if err != nil || len(raw) != 4+8+ed25519.SignatureSize {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(raw[4:12])), 0).UTC(), true
}
