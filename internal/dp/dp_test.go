package dp

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// seeded returns a deterministic randomness source, so the statistical
// tests below give the same verdict on every run: a tolerance of six
// standard errors was chosen for the sample size, and the seeded draws are
// within it; a change that breaks a sampler moves the estimates by far more.
func seeded(tb testing.TB, seed byte) *Sampler {
	tb.Helper()
	var key [32]byte
	key[0] = seed
	return NewSampler(rand.NewChaCha8(key))
}

// pmf is an exact (to float64) probability mass function on [-m, m].
type pmf struct {
	m int64
	p []float64 // p[x+m]
}

func newPMF(m int64, weight func(x int64) float64) pmf {
	out := pmf{m: m, p: make([]float64, 2*m+1)}
	var z float64
	for x := -m; x <= m; x++ {
		w := weight(x)
		out.p[x+m] = w
		z += w
	}
	for i := range out.p {
		out.p[i] /= z
	}
	return out
}

func (d pmf) moment(k int) float64 {
	var s float64
	for x := -d.m; x <= d.m; x++ {
		s += math.Pow(float64(x), float64(k)) * d.p[x+d.m]
	}
	return s
}

func (d pmf) tail(t int64) float64 { // P[|X| >= t]
	var s float64
	for x := -d.m; x <= d.m; x++ {
		if x >= t || x <= -t {
			s += d.p[x+d.m]
		}
	}
	return s
}

func (d pmf) at(x int64) float64 {
	if x < -d.m || x > d.m {
		return 0
	}
	return d.p[x+d.m]
}

// checkAgainst compares n samples with the exact distribution: mean,
// variance, the tail mass beyond 1, 2 and 3 standard deviations, and the
// mass of each point near zero, each within six standard errors.
func checkAgainst(t *testing.T, samples []int64, d pmf) {
	t.Helper()
	n := float64(len(samples))
	var sum, sum2 float64
	counts := map[int64]int{}
	for _, x := range samples {
		sum += float64(x)
		sum2 += float64(x) * float64(x)
		counts[x]++
	}
	mean := sum / n
	variance := sum2/n - mean*mean
	wantVar := d.moment(2) - d.moment(1)*d.moment(1)
	mu4 := d.moment(4)
	if tol := 6 * math.Sqrt(wantVar/n); math.Abs(mean-d.moment(1)) > tol {
		t.Errorf("mean %.4f, want %.4f ± %.4f", mean, d.moment(1), tol)
	}
	if tol := 6 * math.Sqrt((mu4-wantVar*wantVar)/n); math.Abs(variance-wantVar) > tol {
		t.Errorf("variance %.4f, want %.4f ± %.4f", variance, wantVar, tol)
	}
	sd := math.Sqrt(wantVar)
	for _, k := range []float64{1, 2, 3} {
		cut := int64(math.Ceil(k * sd))
		want := d.tail(cut)
		got := 0
		for x, c := range counts {
			if x >= cut || x <= -cut {
				got += c
			}
		}
		if tol := 6*math.Sqrt(want*(1-want)/n) + 1/n; math.Abs(float64(got)/n-want) > tol {
			t.Errorf("P[|X| >= %d] = %.5f, want %.5f ± %.5f", cut, float64(got)/n, want, tol)
		}
	}
	for x := int64(-3); x <= 3; x++ {
		want := d.at(x)
		if tol := 6*math.Sqrt(want*(1-want)/n) + 1/n; math.Abs(float64(counts[x])/n-want) > tol {
			t.Errorf("P[X = %d] = %.5f, want %.5f ± %.5f", x, float64(counts[x])/n, want, tol)
		}
	}
}

const statSamples = 60000

func TestLaplaceMatchesExactDistribution(t *testing.T) {
	for i, scale := range []*big.Rat{big.NewRat(1, 3), big.NewRat(1, 1), big.NewRat(5, 2), big.NewRat(10, 1), big.NewRat(40, 3)} {
		t.Run(scale.RatString(), func(t *testing.T) {
			s := seeded(t, byte(i+1))
			b, _ := scale.Float64()
			d := newPMF(int64(60*b)+20, func(x int64) float64 { return math.Exp(-math.Abs(float64(x)) / b) })
			samples := make([]int64, statSamples)
			for j := range samples {
				x, err := s.Laplace(scale)
				if err != nil {
					t.Fatal(err)
				}
				samples[j] = x
			}
			checkAgainst(t, samples, d)
		})
	}
}

func TestGaussianMatchesExactDistribution(t *testing.T) {
	for i, sigma2 := range []*big.Rat{big.NewRat(1, 4), big.NewRat(1, 1), big.NewRat(7, 3), big.NewRat(25, 1), big.NewRat(400, 1)} {
		t.Run(sigma2.RatString(), func(t *testing.T) {
			s := seeded(t, byte(i+50))
			v, _ := sigma2.Float64()
			d := newPMF(int64(20*math.Sqrt(v))+20, func(x int64) float64 { return math.Exp(-float64(x*x) / (2 * v)) })
			samples := make([]int64, statSamples)
			for j := range samples {
				x, err := s.Gaussian(sigma2)
				if err != nil {
					t.Fatal(err)
				}
				samples[j] = x
			}
			checkAgainst(t, samples, d)
		})
	}
}

func TestBernoulliExp(t *testing.T) {
	const n = 100000
	for i, gamma := range []*big.Rat{big.NewRat(0, 1), big.NewRat(1, 7), big.NewRat(1, 2), big.NewRat(1, 1), big.NewRat(3, 2), big.NewRat(4, 1), big.NewRat(123456789, 100000000)} {
		t.Run(gamma.RatString(), func(t *testing.T) {
			s := seeded(t, byte(i+100))
			g, _ := gamma.Float64()
			want := math.Exp(-g)
			hits := 0
			for range n {
				ok, err := s.BernoulliExp(gamma)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					hits++
				}
			}
			if tol := 6*math.Sqrt(want*(1-want)/n) + 1.0/n; math.Abs(float64(hits)/n-want) > tol {
				t.Errorf("P = %.5f, want %.5f ± %.5f", float64(hits)/n, want, tol)
			}
		})
	}
}

func TestBernoulliLargeDenominator(t *testing.T) {
	// A denominator beyond 64 bits takes the big-integer path.
	den := new(big.Int).Lsh(big.NewInt(1), 100)
	p2 := new(big.Rat).SetFrac(new(big.Int).Add(new(big.Int).Rsh(den, 2), big.NewInt(1)), den)
	s := seeded(t, 7)
	const n = 40000
	hits := 0
	for range n {
		ok, err := s.Bernoulli(p2)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			hits++
		}
	}
	if got := float64(hits) / n; math.Abs(got-0.25) > 6*math.Sqrt(0.25*0.75/n) {
		t.Errorf("P = %.4f, want 0.25", got)
	}
}

func TestSamplerIsDeterministicForASeed(t *testing.T) {
	a, b := seeded(t, 9), seeded(t, 9)
	for range 100 {
		x, _ := a.Gaussian(big.NewRat(9, 2))
		y, _ := b.Gaussian(big.NewRat(9, 2))
		if x != y {
			t.Fatal("same seed, different samples")
		}
	}
}

func TestParameterErrors(t *testing.T) {
	s := seeded(t, 1)
	cases := []struct {
		name string
		err  func() error
	}{
		{"laplace zero", func() error { _, err := s.Laplace(big.NewRat(0, 1)); return err }},
		{"laplace negative", func() error { _, err := s.Laplace(big.NewRat(-1, 2)); return err }},
		{"laplace huge", func() error {
			_, err := s.Laplace(new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), 50)))
			return err
		}},
		{"gaussian zero", func() error { _, err := s.Gaussian(big.NewRat(0, 1)); return err }},
		{"bernoulliexp negative", func() error { _, err := s.BernoulliExp(big.NewRat(-1, 1)); return err }},
		{"bernoulli above one", func() error { _, err := s.Bernoulli(big.NewRat(3, 2)); return err }},
		{"scale zero epsilon", func() error { _, err := LaplaceScale(1, big.NewRat(0, 1)); return err }},
		{"scale zero sensitivity", func() error { _, err := LaplaceScale(0, big.NewRat(1, 1)); return err }},
		{"sigma zero rho", func() error { _, err := GaussianSigma2(1, big.NewRat(0, 1)); return err }},
		{"threshold delta one", func() error { _, err := PartitionThreshold(1, big.NewRat(1, 1), big.NewRat(1, 1)); return err }},
		{"sum clamp reversed", func() error { _, err := SumSensitivity(5, 1, 1); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.err(); !errors.Is(err, ErrParam) {
				t.Errorf("err = %v, want ErrParam", err)
			}
		})
	}
}

// A reader that returns only zeros must make the samplers fail, not hang.
func TestBrokenReaderFails(t *testing.T) {
	s := NewSampler(bytes.NewReader(make([]byte, 1<<20)))
	if _, err := s.Laplace(big.NewRat(1, 1)); err == nil {
		t.Error("Laplace on a zero reader succeeded")
	}
	s = NewSampler(bytes.NewReader(nil))
	if _, err := s.Gaussian(big.NewRat(1, 1)); err == nil {
		t.Error("Gaussian on an empty reader succeeded")
	}
}

func TestScales(t *testing.T) {
	b, err := LaplaceScale(3, big.NewRat(1, 2))
	if err != nil || b.Cmp(big.NewRat(6, 1)) != 0 {
		t.Errorf("LaplaceScale(3, 1/2) = %v, %v; want 6", b, err)
	}
	v, err := GaussianSigma2(2, big.NewRat(1, 8))
	if err != nil || v.Cmp(big.NewRat(16, 1)) != 0 {
		t.Errorf("GaussianSigma2(2, 1/8) = %v, %v; want 16", v, err)
	}
	if d, _ := SumSensitivity(-5, 100, 3); d != 300 {
		t.Errorf("SumSensitivity = %d, want 300", d)
	}
}

// The threshold keeps a single-unit group with probability at most δ, with
// the exact discrete Laplace tail q^m/(1+q).
func TestPartitionThresholdBoundsDelta(t *testing.T) {
	for _, c := range []struct {
		groups int64
		eps    *big.Rat
		delta  *big.Rat
	}{
		{1, big.NewRat(1, 1), big.NewRat(1, 1000000)},
		{5, big.NewRat(1, 2), big.NewRat(1, 100000)},
		{10, big.NewRat(2, 1), big.NewRat(1, 1000000000)},
	} {
		t.Run(fmt.Sprintf("%d-%s-%s", c.groups, c.eps.RatString(), c.delta.RatString()), func(t *testing.T) {
			tau, err := PartitionThreshold(c.groups, c.eps, c.delta)
			if err != nil {
				t.Fatal(err)
			}
			e, _ := c.eps.Float64()
			d, _ := c.delta.Float64()
			q := math.Exp(-e / float64(c.groups))
			leak := float64(c.groups) * math.Pow(q, float64(tau-1)) / (1 + q)
			if leak > d {
				t.Errorf("threshold %d leaks %.3g > δ %.3g", tau, leak, d)
			}
			// Not needlessly strict either: the exact minimum differs only by
			// the dropped 1/(1+q) factor (at most b·ln 2) and the margin of one.
			least := int64(1)
			for float64(c.groups)*math.Pow(q, float64(least-1))/(1+q) > d {
				least++
			}
			b := float64(c.groups) / e
			if slack := tau - least; float64(slack) > math.Ceil(b*math.Ln2)+2 {
				t.Errorf("threshold %d is %d above the exact minimum %d", tau, slack, least)
			}
		})
	}
}

func TestKeepPartition(t *testing.T) {
	s := seeded(t, 3)
	eps := big.NewRat(1, 1)
	tau, _ := PartitionThreshold(1, eps, big.NewRat(1, 1000000))
	kept := 0
	for range 10000 {
		ok, err := s.KeepPartition(1, 1, eps, tau)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			kept++
		}
	}
	if kept != 0 {
		t.Errorf("a one-unit group was kept %d times in 10000", kept)
	}
	big1 := 0
	for range 1000 {
		if ok, _ := s.KeepPartition(tau+40, 1, eps, tau); ok {
			big1++
		}
	}
	if big1 < 999 {
		t.Errorf("a large group was kept only %d times in 1000", big1)
	}
}

// A unit's rows (at most m of them) move a group's row count by at most m:
// the row threshold is the unit threshold of m groups, moved up by m-1, so
// a group one unit makes alone passes with the same small probability.
func TestPartitionThresholdRows(t *testing.T) {
	eps, delta := big.NewRat(1, 2), big.NewRat(1, 1000000)
	one, err := PartitionThresholdRows(1, eps, delta)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := PartitionThreshold(1, eps, delta); one != want {
		t.Errorf("one row a unit: %d, want the unit threshold %d", one, want)
	}
	six, _ := PartitionThresholdRows(6, eps, delta)
	if want, _ := PartitionThreshold(6, eps, delta); six != want+5 {
		t.Errorf("six rows a unit: %d, want %d", six, want+5)
	}
}
