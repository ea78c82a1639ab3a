package dp

import (
	"fmt"
	"math"
	"math/big"
)

// LaplaceScale returns the discrete Laplace scale Δ/ε that makes a COUNT or
// SUM with L1 sensitivity Δ (the most one privacy unit can change it, after
// contribution bounding) ε-differentially private.
func LaplaceScale(sensitivity int64, epsilon *big.Rat) (*big.Rat, error) {
	if sensitivity <= 0 || epsilon == nil || epsilon.Sign() <= 0 {
		return nil, fmt.Errorf("%w: sensitivity %d and epsilon must be positive", ErrParam, sensitivity)
	}
	return new(big.Rat).Quo(new(big.Rat).SetInt64(sensitivity), epsilon), nil
}

// GaussianSigma2 returns the discrete Gaussian variance parameter Δ²/(2ρ)
// that makes a query with L2 sensitivity Δ ρ-zero-concentrated
// differentially private (CKS20, Theorem 4).
func GaussianSigma2(sensitivity int64, rho *big.Rat) (*big.Rat, error) {
	if sensitivity <= 0 || rho == nil || rho.Sign() <= 0 {
		return nil, fmt.Errorf("%w: sensitivity %d and rho must be positive", ErrParam, sensitivity)
	}
	d := new(big.Rat).SetInt64(sensitivity)
	d.Mul(d, d)
	return d.Quo(d, new(big.Rat).Add(rho, rho)), nil
}

// SumSensitivity returns the L1 sensitivity of a SUM whose per-unit
// contribution is clamped to [lo, hi] in each of at most maxGroups groups:
// removing one unit moves each group by at most max(|lo|, |hi|).
func SumSensitivity(lo, hi, maxGroups int64) (int64, error) {
	if lo > hi || maxGroups <= 0 {
		return 0, fmt.Errorf("%w: clamp [%d, %d] over %d groups", ErrParam, lo, hi, maxGroups)
	}
	m := max(absInt(lo), absInt(hi))
	if m != 0 && maxGroups > math.MaxInt64/m {
		return 0, fmt.Errorf("%w: sensitivity overflows", ErrParam)
	}
	return m * maxGroups, nil
}

func absInt(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// PartitionThreshold returns the smallest noisy distinct-unit count τ at
// which a group may be released when each unit touches at most maxGroups
// groups and the count carries discrete Laplace noise of scale maxGroups/ε.
// A group that exists because of a single unit shows up with probability
// at most δ over all the groups that unit touches: for discrete Laplace of
// scale b and integer m >= 1, P[Z >= m] = q^m/(1+q) with q = exp(-1/b), so
// τ = 1 + ceil(b·ln(maxGroups/δ)) suffices; one more is added so that the
// rounding of the (deterministic, public) floating-point logarithm can only
// make the threshold stricter.
func PartitionThreshold(maxGroups int64, epsilon, delta *big.Rat) (int64, error) {
	if maxGroups <= 0 || epsilon == nil || epsilon.Sign() <= 0 || delta == nil || delta.Sign() <= 0 ||
		delta.Cmp(big.NewRat(1, 1)) >= 0 {
		return 0, fmt.Errorf("%w: partition selection needs maxGroups > 0, epsilon > 0, 0 < delta < 1", ErrParam)
	}
	b, _ := new(big.Rat).Quo(new(big.Rat).SetInt64(maxGroups), epsilon).Float64()
	d, _ := delta.Float64()
	tau := 1 + math.Ceil(b*math.Log(float64(maxGroups)/d)) + 1
	if math.IsNaN(tau) || tau > math.MaxInt32 {
		return 0, fmt.Errorf("%w: partition threshold out of range", ErrParam)
	}
	return int64(max(tau, 2)), nil
}

// PartitionThresholdRows is PartitionThreshold for a noisy row count to
// which one unit adds at most maxRows rows, over at most maxRows groups
// (a unit has at most maxRows rows in all): the count carries discrete
// Laplace noise of scale maxRows/ε (the L1 change of the whole vector of
// counts), and a group made by one unit alone has at most maxRows rows, so
// the threshold is that of maxRows groups moved up by maxRows−1.
func PartitionThresholdRows(maxRows int64, epsilon, delta *big.Rat) (int64, error) {
	tau, err := PartitionThreshold(maxRows, epsilon, delta)
	if err != nil {
		return 0, err
	}
	return tau + maxRows - 1, nil
}

// KeepPartition adds discrete Laplace noise of scale maxGroups/ε to a
// group's distinct-unit count and reports whether the noisy count reaches
// the threshold from PartitionThreshold. The noisy count itself is not
// returned: the caller releases the group's statistics with fresh noise
// from its own share of the budget.
func (s *Sampler) KeepPartition(units, maxGroups int64, epsilon *big.Rat, threshold int64) (bool, error) {
	scale, err := LaplaceScale(maxGroups, epsilon)
	if err != nil {
		return false, err
	}
	z, err := s.Laplace(scale)
	if err != nil {
		return false, err
	}
	return units+z >= threshold, nil
}
