package synth

import "math"

// idSpace hands out identity numbers that are unique by construction.
// Drawing region, birth date and sequence independently per person would
// give the same number to two people about once per thousand at full
// scale. Instead every possible (county, birth date, sequence) is a slot;
// a county holds slots in proportion to its population and a birth year
// in proportion to how common that age is among workers, and person i
// takes slot perm(i) for a keyed permutation of the slot range. Distinct
// persons get distinct slots, hence distinct numbers, and since the slot
// range is far larger than the population the draws still follow the
// intended distribution.
type idSpace struct {
	countyW   []int64 // a_c: relative slots per county, 1..maxCountyW
	countyCum []int64 // running totals of a_c·2·dayUnits
	yearW     []int64 // b_y for birth years firstBirth..lastBirth, 1..maxYearW
	yearCum   []int64 // running totals of b_y·days(y)
	dayUnits  int64   // Σ b_y·days(y)
	size      uint64  // number of slots
	bits      uint    // half-width of the Feistel network
	keys      [4]uint64
}

// a_c·b_y·2 must not exceed the 1000 sequence numbers of a day.
const (
	maxCountyW = 25
	maxYearW   = 20
	minAge     = 18
	maxAge     = 60
)

func newIDSpace(seed uint64, countyShare []float64) *idSpace {
	s := &idSpace{}
	top := 0.0
	for _, x := range countyShare {
		top = max(top, x)
	}
	for y := refYear - maxAge; y <= refYear-minAge; y++ {
		age := refYear - y
		// Working ages bunch in the middle, as the sum of two uniforms does.
		w := 1 + int64(math.Round((maxYearW-1)*(1-math.Abs(float64(age)-39)/22)))
		s.yearW = append(s.yearW, w)
		s.dayUnits += w * int64(daysInYear(y))
		s.yearCum = append(s.yearCum, s.dayUnits)
	}
	var total int64
	for _, x := range countyShare {
		a := max(1, int64(math.Round(maxCountyW*x/top)))
		s.countyW = append(s.countyW, a)
		total += a * 2 * s.dayUnits
		s.countyCum = append(s.countyCum, total)
	}
	s.size = uint64(total)
	for s.bits = 1; uint64(1)<<(2*s.bits) < s.size; s.bits++ {
	}
	for k := range s.keys {
		s.keys[k] = mix(seed ^ uint64(k+1)*0xA0761D6478BD642F)
	}
	return s
}

// perm is a keyed permutation of [0, size): a balanced Feistel network on
// 2·bits bits, walked until it lands inside the range.
func (s *idSpace) perm(x uint64) uint64 {
	mask := uint64(1)<<s.bits - 1
	for {
		l, r := x>>s.bits, x&mask
		for _, k := range s.keys {
			l, r = r, l^(mix(r^k)&mask)
		}
		x = l<<s.bits | r
		if x < s.size {
			return x
		}
	}
}

// slot decodes person i's slot into a county index, birth date and
// sequence number (whose parity is the sex).
func (s *idSpace) slot(i int64) (county, y, m, d, seq int) {
	x := int64(s.perm(uint64(i)))
	county = searchCum(s.countyCum, x)
	if county > 0 {
		x -= s.countyCum[county-1]
	}
	a2 := s.countyW[county] * 2
	t, k := x/a2, x%a2
	yi := searchCum(s.yearCum, t)
	if yi > 0 {
		t -= s.yearCum[yi-1]
	}
	b := s.yearW[yi]
	y = refYear - maxAge + yi
	m, d = monthDay(y, int(t/b))
	seq = int((t%b)*a2 + k)
	return
}

// searchCum returns the first index whose running total exceeds x.
func searchCum(cum []int64, x int64) int {
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
