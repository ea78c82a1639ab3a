package synth

import "math"

// rng is a counter-based generator: an entity's stream is keyed by (seed,
// stream, index), so entity i can be rebuilt anywhere (a registry row, an
// employer reference, a buyer) without generating entities 0..i-1 or
// keeping any of them in memory.
type rng struct{ s uint64 }

// Stream keys keep the attributes of different entity kinds independent
// even when they share an index.
const (
	streamEnterprise uint64 = iota + 1
	streamPerson
	streamTax
	streamFund
	streamEstate
	streamBus
	streamPower
	streamHousehold
)

const golden = 0x9E3779B97F4A7C15

// mix is SplitMix64's finaliser, a bijection on uint64 with good avalanche.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func newRNG(seed, stream, i uint64) rng {
	return rng{s: mix(mix(seed^stream*golden) + i*0xD1B54A32D192ED03)}
}

// sub derives an independent generator for a sub-entity (a month of a
// person, a stop of a line) so its values do not depend on call order.
func (r rng) sub(k uint64) rng { return rng{s: mix(r.s ^ mix(k+golden))} }

func (r *rng) next() uint64 {
	r.s += golden
	return mix(r.s)
}

// float returns a uniform value in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a uniform value in [0, n); n must be positive.
func (r *rng) intn(n int) int {
	hi, _ := mulhi(r.next(), uint64(n))
	return int(hi)
}

func mulhi(a, b uint64) (uint64, uint64) {
	const mask32 = 1<<32 - 1
	a0, a1 := a&mask32, a>>32
	b0, b1 := b&mask32, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1 := t&mask32 + a0*b1
	return a1*b1 + t>>32 + w1>>32, a * b
}

// normal returns a standard normal variate (Box-Muller, one of the pair).
func (r *rng) normal() float64 {
	u := r.float()
	if u < 1e-300 {
		u = 1e-300
	}
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*r.float())
}

// lognormal returns exp(N(log median, sigma²)): capital, salaries and
// prices are right-skewed, and this is the usual first model of them.
func (r *rng) lognormal(median, sigma float64) float64 {
	return median * math.Exp(sigma*r.normal())
}

// pick draws an index from cumulative weights (cum[len-1] is the total).
func (r *rng) pick(cum []float64) int {
	x := r.float() * cum[len(cum)-1]
	lo, hi := 0, len(cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// cumulative turns weights into running totals for pick.
func cumulative(w []float64) []float64 {
	out := make([]float64, len(w))
	s := 0.0
	for i, x := range w {
		s += x
		out[i] = s
	}
	return out
}
