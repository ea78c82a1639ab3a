package audit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"golang.org/x/mod/sumdb/note"
)

// KeyType is the signature algorithm of checkpoints: SM2 (the default,
// GB/T 32918) or Ed25519.
type KeyType string

const (
	KeySM2     KeyType = "sm2"
	KeyEd25519 KeyType = "ed25519"
)

// ParseKeyType accepts "sm2" or "ed25519".
func ParseKeyType(s string) (KeyType, error) {
	switch KeyType(s) {
	case KeySM2, KeyEd25519:
		return KeyType(s), nil
	}
	return "", fmt.Errorf("signature algorithm %q: use sm2 or ed25519", s)
}

// sm2Alg identifies SM2 keys in signed-note key strings. The note format
// gives Ed25519 the single byte 0x01; for an algorithm without a registered
// byte we use 0xff followed by a name, so no registered value is taken.
var sm2Alg = []byte{0xff, 's', 'm', '2'}

const ed25519Alg = 0x01

// KeyFile is where the checkpoint signing key lives in the data directory.
const KeyFile = "audit-signer.key"

// LoadOrCreateKey reads the signing key from dir, creating it (mode 0600)
// on first start. It returns the signer and the public verifier key string
// ("name+hash+base64"), which is what a regulator needs to check checkpoints.
func LoadOrCreateKey(dir, name string, typ KeyType) (note.Signer, string, error) {
	if dir == "" {
		return nil, "", errors.New("audit: no data directory for the signing key: pass --data DIR")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, "", err
	}
	return LoadOrCreateKeyFile(filepath.Join(dir, KeyFile), name, typ)
}

// LoadOrCreateKeyFile is LoadOrCreateKey for a key file at any path.
func LoadOrCreateKeyFile(path, name string, typ KeyType) (note.Signer, string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		skey, _, err := generateKey(name, typ)
		if err != nil {
			return nil, "", err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, "", fmt.Errorf("audit: create signing key: %w", err)
		}
		if _, err := f.WriteString(skey + "\n"); err != nil {
			f.Close()
			return nil, "", err
		}
		if err := f.Close(); err != nil {
			return nil, "", err
		}
		b = []byte(skey)
	} else if err != nil {
		return nil, "", fmt.Errorf("audit: read signing key: %w", err)
	}
	if err := privateFile(path); err != nil {
		return nil, "", err
	}
	return ParseSigner(strings.TrimSpace(string(b)))
}

// privateFile refuses a key file its group or others may access.
func privateFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("audit: signing key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("audit: signing key %s is accessible to its group or others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	return nil
}

// LoadKeyFile reads an existing signing key, refusing one readable by
// others.
func LoadKeyFile(path string) (note.Signer, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("audit: read signing key: %w", err)
	}
	if err := privateFile(path); err != nil {
		return nil, "", err
	}
	return ParseSigner(strings.TrimSpace(string(b)))
}

func generateKey(name string, typ KeyType) (skey, vkey string, err error) {
	if typ == KeyEd25519 {
		return note.GenerateKey(rand.Reader, name)
	}
	priv, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	pub := sm2Public(&priv.PublicKey)
	h := keyHash(name, pub)
	scalar := priv.D.FillBytes(make([]byte, 32))
	skey = fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append(append([]byte(nil), sm2Alg...), scalar...)))
	vkey = fmt.Sprintf("%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(pub))
	return skey, vkey, nil
}

func sm2Public(pub *ecdsa.PublicKey) []byte {
	pt := make([]byte, 65)
	pt[0] = 4
	pub.X.FillBytes(pt[1:33])
	pub.Y.FillBytes(pt[33:])
	return append(append([]byte(nil), sm2Alg...), pt...)
}

// keyHash is the signed-note key hash: the first four bytes of
// SHA-256(name || "\n" || algorithm || public key).
func keyHash(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// ParseSigner reads a private key string of either algorithm and returns
// the signer and its public verifier key string.
func ParseSigner(skey string) (note.Signer, string, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return nil, "", errors.New("audit: malformed signing key")
	}
	name, raw := parts[2], parts[4]
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) == 0 {
		return nil, "", errors.New("audit: malformed signing key")
	}
	if key[0] == ed25519Alg {
		s, err := note.NewSigner(skey)
		if err != nil {
			return nil, "", fmt.Errorf("audit: signing key: %w", err)
		}
		pub, err := ed25519Public(key[1:])
		if err != nil {
			return nil, "", err
		}
		vkey, err := note.NewEd25519VerifierKey(name, pub)
		return s, vkey, err
	}
	if !bytes.HasPrefix(key, sm2Alg) || len(key) != len(sm2Alg)+32 {
		return nil, "", errors.New("audit: signing key of an unknown algorithm")
	}
	priv, err := sm2.NewPrivateKey(key[len(sm2Alg):])
	if err != nil {
		return nil, "", fmt.Errorf("audit: SM2 signing key: %w", err)
	}
	pub := sm2Public(&priv.PublicKey)
	h := keyHash(name, pub)
	if want, err := strconv.ParseUint(parts[3], 16, 32); err != nil || uint32(want) != h {
		return nil, "", errors.New("audit: signing key hash does not match the key")
	}
	vkey := fmt.Sprintf("%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(pub))
	return &sm2Signer{name: name, hash: h, priv: priv}, vkey, nil
}

// NewVerifier parses a public key string of either algorithm.
func NewVerifier(vkey string) (note.Verifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("audit: malformed verifier key: want name+hash+key")
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) == 0 {
		return nil, errors.New("audit: malformed verifier key")
	}
	if key[0] == ed25519Alg {
		return note.NewVerifier(vkey)
	}
	if key[0] == cosigAlg {
		h, err := strconv.ParseUint(parts[1], 16, 32)
		if err != nil {
			return nil, errors.New("audit: malformed verifier key hash")
		}
		return newCosigVerifier(parts[0], key, uint32(h))
	}
	if !bytes.HasPrefix(key, sm2Alg) {
		return nil, errors.New("audit: verifier key of an unknown algorithm")
	}
	pub, err := sm2.NewPublicKey(key[len(sm2Alg):])
	if err != nil {
		return nil, fmt.Errorf("audit: SM2 verifier key: %w", err)
	}
	h := keyHash(parts[0], key)
	if want, err := strconv.ParseUint(parts[1], 16, 32); err != nil || uint32(want) != h {
		return nil, errors.New("audit: verifier key hash does not match the key")
	}
	return &sm2Verifier{name: parts[0], hash: h, pub: pub}, nil
}

type sm2Signer struct {
	name string
	hash uint32
	priv *sm2.PrivateKey
}

func (s *sm2Signer) Name() string    { return s.name }
func (s *sm2Signer) KeyHash() uint32 { return s.hash }

// Sign signs with SM2 over SM3 with the standard's default user ID
// (GB/T 32918.2), DER-encoded.
func (s *sm2Signer) Sign(msg []byte) ([]byte, error) {
	return sm2.SignASN1(rand.Reader, s.priv, msg, sm2.DefaultSM2SignerOpts)
}

type sm2Verifier struct {
	name string
	hash uint32
	pub  *ecdsa.PublicKey
}

func (v *sm2Verifier) Name() string    { return v.name }
func (v *sm2Verifier) KeyHash() uint32 { return v.hash }
func (v *sm2Verifier) Verify(msg, sig []byte) bool {
	return sm2.VerifyASN1WithSM2(v.pub, nil, msg, sig)
}

// ed25519Public derives the public key from a note private key's seed.
func ed25519Public(seed []byte) (ed25519.PublicKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, errors.New("audit: malformed Ed25519 signing key")
	}
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey), nil
}
