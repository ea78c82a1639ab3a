// Package dp owns the noise of differential privacy: exact samplers for the
// discrete Laplace and discrete Gaussian distributions, the noise scales a
// COUNT or SUM of bounded contributions needs for a given ε, and noisy
// partition selection. Every sampler follows Canonne, Kamath and Steinke,
// "The Discrete Gaussian for Differential Privacy" (2020): it draws only
// uniform integers from the io.Reader it is given and decides with exact
// rational arithmetic, never with floating point, so the output distribution
// has none of the holes Mironov showed in floating-point Laplace noise. It
// keeps no global state: production passes crypto/rand.Reader, tests a
// seeded reader. It never decides how much ε a query may spend; the budget
// ledger does.
package dp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// Sampler draws exact discrete noise from a source of uniform random bytes.
// It is not safe for concurrent use; give each goroutine its own.
type Sampler struct {
	r   io.Reader
	buf [8]byte
	// scratch values reused across draws to keep the hot path free of
	// allocations for small parameters.
	a, b big.Int
}

// NewSampler returns a sampler reading randomness from r (crypto/rand.Reader
// in production).
func NewSampler(r io.Reader) *Sampler {
	return &Sampler{r: r}
}

// ErrParam reports a parameter outside a sampler's domain.
var ErrParam = errors.New("dp: parameter out of range")

// maxGeometric bounds the loops that run a geometric number of times. The
// chance of reaching it is below exp(-10000): hitting it means the reader is
// broken (for example it returns only zeros), not bad luck.
const maxGeometric = 10000

var errStuck = errors.New("dp: randomness source looks broken (a geometric loop ran 10000 times)")

// uint64n returns a uniform integer in [0, n), n > 0, by rejection: the
// values at or above 2^64 mod n are a whole number of copies of [0, n).
func (s *Sampler) uint64n(n uint64) (uint64, error) {
	thresh := -n % n
	for range maxGeometric {
		if _, err := io.ReadFull(s.r, s.buf[:]); err != nil {
			return 0, fmt.Errorf("dp: read randomness: %w", err)
		}
		x := binary.LittleEndian.Uint64(s.buf[:])
		if x >= thresh {
			return x % n, nil
		}
	}
	return 0, errStuck
}

// bigIntn returns a uniform integer in [0, n), n > 0.
func (s *Sampler) bigIntn(n *big.Int) (*big.Int, error) {
	if n.IsUint64() {
		v, err := s.uint64n(n.Uint64())
		if err != nil {
			return nil, err
		}
		return new(big.Int).SetUint64(v), nil
	}
	bits := n.BitLen()
	byteLen := (bits + 7) / 8
	buf := make([]byte, byteLen)
	mask := byte(0xff >> (8*byteLen - bits))
	v := new(big.Int)
	for range maxGeometric {
		if _, err := io.ReadFull(s.r, buf); err != nil {
			return nil, fmt.Errorf("dp: read randomness: %w", err)
		}
		buf[0] &= mask
		v.SetBytes(buf)
		if v.Cmp(n) < 0 {
			return v, nil
		}
	}
	return nil, errStuck
}

// bernoulli returns true with probability num/den, 0 <= num <= den, den > 0.
func (s *Sampler) bernoulli(num, den *big.Int) (bool, error) {
	if num.IsUint64() && den.IsUint64() {
		u, err := s.uint64n(den.Uint64())
		return u < num.Uint64(), err
	}
	u, err := s.bigIntn(den)
	if err != nil {
		return false, err
	}
	return u.Cmp(num) < 0, nil
}

// Bernoulli returns true with probability p, a rational in [0, 1].
func (s *Sampler) Bernoulli(p *big.Rat) (bool, error) {
	if p.Sign() < 0 || p.Cmp(big.NewRat(1, 1)) > 0 {
		return false, fmt.Errorf("%w: Bernoulli p=%s", ErrParam, p.RatString())
	}
	return s.bernoulli(p.Num(), p.Denom())
}

// BernoulliExp returns true with probability exp(-gamma), gamma a
// non-negative rational (CKS20, Algorithm 1).
func (s *Sampler) BernoulliExp(gamma *big.Rat) (bool, error) {
	if gamma.Sign() < 0 {
		return false, fmt.Errorf("%w: BernoulliExp gamma=%s", ErrParam, gamma.RatString())
	}
	return s.bernoulliExp(gamma.Num(), gamma.Denom())
}

// bernoulliExp is BernoulliExp on gamma = num/den.
func (s *Sampler) bernoulliExp(num, den *big.Int) (bool, error) {
	// exp(-gamma) = exp(-1)^floor(gamma) * exp(-frac(gamma)): each factor
	// is a coin of its own, and any tails ends the product early.
	whole, frac := new(big.Int).QuoRem(num, den, new(big.Int))
	one := big.NewInt(1)
	for i := new(big.Int); i.Cmp(whole) < 0; i.Add(i, one) {
		ok, err := s.bernoulliExpUnit(one, one)
		if err != nil || !ok {
			return false, err
		}
	}
	return s.bernoulliExpUnit(frac, den)
}

// bernoulliExpUnit returns true with probability exp(-num/den) for
// num/den in [0, 1]: the parity of the first K with Bernoulli(gamma/K)
// failing is odd with exactly that probability.
func (s *Sampler) bernoulliExpUnit(num, den *big.Int) (bool, error) {
	if num.Sign() == 0 {
		return true, nil
	}
	k := int64(1)
	kden := &s.a
	for range maxGeometric {
		kden.Mul(den, s.b.SetInt64(k))
		ok, err := s.bernoulli(num, kden)
		if err != nil {
			return false, err
		}
		if !ok {
			return k%2 == 1, nil
		}
		k++
	}
	return false, errStuck
}

// maxLaplaceParam bounds the numerator and denominator of a discrete
// Laplace scale so that U + t·V below cannot overflow an int64.
const maxLaplaceParam = 1 << 40

// Laplace returns a sample of the discrete Laplace distribution with the
// given positive rational scale b: P[X = x] is proportional to
// exp(-|x|/b) over the integers (CKS20, Algorithm 2). Adding it to an
// integer query of L1 sensitivity Δ with b = Δ/ε gives ε-differential
// privacy.
func (s *Sampler) Laplace(scale *big.Rat) (int64, error) {
	num, den := scale.Num(), scale.Denom()
	if scale.Sign() <= 0 || !num.IsInt64() || num.Int64() > maxLaplaceParam ||
		!den.IsInt64() || den.Int64() > maxLaplaceParam {
		return 0, fmt.Errorf("%w: Laplace scale=%s (must be positive, numerator and denominator at most 2^40)",
			ErrParam, scale.RatString())
	}
	return s.laplace(num.Int64(), den.Int64())
}

// laplace samples the discrete Laplace of scale t/sd.
func (s *Sampler) laplace(t, sd int64) (int64, error) {
	bigT := big.NewInt(t)
	one := big.NewInt(1)
	var uNum big.Int
	for range maxGeometric {
		u, err := s.uint64n(uint64(t))
		if err != nil {
			return 0, err
		}
		// Accept U with probability exp(-U/t): U is then the fractional
		// part (in units of 1/t) of an exponential of rate 1/t.
		ok, err := s.bernoulliExp(uNum.SetUint64(u), bigT)
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		// V counts whole units: geometric with ratio exp(-1).
		var v int64
		for {
			head, err := s.bernoulliExpUnit(one, one)
			if err != nil {
				return 0, err
			}
			if !head {
				break
			}
			v++
			if v > maxGeometric {
				return 0, errStuck
			}
		}
		x := int64(u) + t*v
		y := x / sd
		neg, err := s.uint64n(2)
		if err != nil {
			return 0, err
		}
		if neg == 1 {
			if y == 0 {
				continue // -0 would count zero twice
			}
			return -y, nil
		}
		return y, nil
	}
	return 0, errStuck
}

// Gaussian returns a sample of the discrete Gaussian distribution with
// variance parameter sigma2 > 0 (rational): P[X = x] is proportional to
// exp(-x²/(2·sigma2)) over the integers (CKS20, Algorithm 3). Adding it to
// an integer query of L2 sensitivity Δ gives ρ-zCDP with ρ = Δ²/(2·sigma2).
func (s *Sampler) Gaussian(sigma2 *big.Rat) (int64, error) {
	if sigma2.Sign() <= 0 {
		return 0, fmt.Errorf("%w: Gaussian sigma2=%s", ErrParam, sigma2.RatString())
	}
	// t = floor(sigma) + 1, with floor(sqrt(x)) = isqrt(floor(x)).
	fl := new(big.Int).Quo(sigma2.Num(), sigma2.Denom())
	t := new(big.Int).Sqrt(fl)
	t.Add(t, big.NewInt(1))
	if !t.IsInt64() || t.Int64() > maxLaplaceParam {
		return 0, fmt.Errorf("%w: Gaussian sigma2=%s is too large", ErrParam, sigma2.RatString())
	}
	tr := new(big.Rat).SetInt(t)
	// shift = sigma2 / t; den2 = 2·sigma2.
	shift := new(big.Rat).Quo(sigma2, tr)
	den2 := new(big.Rat).Add(sigma2, sigma2)
	gamma := new(big.Rat)
	for range maxGeometric {
		y, err := s.laplace(t.Int64(), 1)
		if err != nil {
			return 0, err
		}
		ay := y
		if ay < 0 {
			ay = -ay
		}
		// Accept with probability exp(-(|y| - sigma2/t)² / (2·sigma2)).
		gamma.SetInt64(ay)
		gamma.Sub(gamma, shift)
		gamma.Mul(gamma, gamma)
		gamma.Quo(gamma, den2)
		ok, err := s.bernoulliExp(gamma.Num(), gamma.Denom())
		if err != nil {
			return 0, err
		}
		if ok {
			return y, nil
		}
	}
	return 0, errStuck
}
