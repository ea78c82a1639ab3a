package audit

import (
	"crypto/sha256"
	"fmt"
	"hash"

	"github.com/emmansun/gmsm/sm3"
	"github.com/transparency-dev/merkle"
)

// Suite is the hash function of a log, chosen when the log is created and
// never changed: SM3 (the default, as GB/T 39786 expects of government
// systems) or SHA-256.
type Suite string

const (
	SM3    Suite = "sm3"
	SHA256 Suite = "sha256"
)

// ParseSuite accepts "sm3" or "sha256".
func ParseSuite(s string) (Suite, error) {
	switch Suite(s) {
	case SM3, SHA256:
		return Suite(s), nil
	}
	return "", fmt.Errorf("hash suite %q: use sm3 or sha256", s)
}

// Hasher returns the RFC 6962 tree hasher of the suite: a leaf is
// H(0x00 || leaf), an interior node H(0x01 || left || right).
func (s Suite) Hasher() merkle.LogHasher {
	if s == SHA256 {
		return treeHasher{sha256.New}
	}
	return treeHasher{sm3.New}
}

type treeHasher struct{ h func() hash.Hash }

func (t treeHasher) EmptyRoot() []byte { return t.h().Sum(nil) }

func (t treeHasher) HashLeaf(leaf []byte) []byte {
	h := t.h()
	h.Write([]byte{0})
	h.Write(leaf)
	return h.Sum(nil)
}

func (t treeHasher) HashChildren(l, r []byte) []byte {
	h := t.h()
	h.Write([]byte{1})
	h.Write(l)
	h.Write(r)
	return h.Sum(nil)
}

func (t treeHasher) Size() int { return 32 }

// chainLink is a leaf's link in the hash chain the integrator keeps beside
// the tree: H(0x02 || previous link || leaf hash), the first link having an
// empty previous one. The byte 0x02 keeps links apart from the tree's
// leaves (0x00) and nodes (0x01). A link binds a leaf hash to every leaf
// hash before it, so a leaf hash changed on its own breaks its own link and
// no other, and the check names that leaf.
func (s Suite) chainLink(prev, leaf []byte) []byte {
	var h hash.Hash
	if s == SHA256 {
		h = sha256.New()
	} else {
		h = sm3.New()
	}
	h.Write([]byte{2})
	h.Write(prev)
	h.Write(leaf)
	return h.Sum(nil)
}
