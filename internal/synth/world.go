package synth

import (
	"math"
	"strings"

	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
)

// The snapshot date of every dataset: the data describe Jiangxi as of the
// end of 2025.
const (
	refYear    = 2025
	firstYear  = 1993 // earliest establishment year in the registry
	siMonths   = 6    // social insurance and housing fund: 2025-07..2025-12
	siFirstMon = 7
	taxFirst   = 2023 // tax credit evaluation years 2023..2025
	taxYears   = 3
)

// county is a county-level division with its city.
type county struct {
	code, name string
	city       int // index into cities
	cityName   string
}

// world holds what a generator derives from the scale and the seed before
// its first row: cumulative weight tables and the enterprise band starts.
// It is built per call and never shared, so nothing here is global state.
type world struct {
	seed     uint64
	scale    float64
	nEnt     int64
	nPerson  int64
	counties []county
	popCum   []float64 // persons and households by county
	entCum   []float64 // enterprises by county (Nanchang over-weighted)
	surCum   []float64
	indCum   []float64
	statCum  []float64
	taxCum   []float64
	cardCum  []float64
	estCum   []float64
	// yearStart[k] is the first enterprise index established in
	// firstYear+k; the registry is in registration order, so the number
	// established by a year is known without generating anyone.
	yearStart []int64
	ids       *idSpace
}

// sizes are the population sizes at a scale: scale 1 is a million
// enterprises and two million insured persons.
func sizes(scale float64) (ents, persons int64) {
	ents = max(1, int64(math.Round(1_000_000*scale)))
	persons = max(1, int64(math.Round(2_000_000*scale)))
	return
}

func newWorld(scale float64, seed uint64) *world {
	w := &world{seed: seed, scale: scale}
	w.nEnt, w.nPerson = sizes(scale)
	tb := region.Default()
	var pop, ent []float64
	for ci, c := range cities {
		cr, _ := tb.Lookup(c.code)
		kids := tb.Children(c.code)
		var kw []float64
		total := 0.0
		for _, k := range kids {
			// Urban districts (codes 01..20) are denser than counties.
			x := 1.0
			switch {
			case k.Code[4] < '2':
				x = 2.2
			case k.Code[4] == '8':
				x = 1.4
			}
			kw = append(kw, x)
			total += x
		}
		entBoost := 1.0
		if c.code == "360100" {
			entBoost = 1.5 // the capital hosts a larger share of firms
		}
		for j, k := range kids {
			w.counties = append(w.counties, county{code: k.Code, name: k.NameZH, city: ci, cityName: cr.NameZH})
			share := c.pop * kw[j] / total
			pop = append(pop, share)
			ent = append(ent, share*entBoost*(0.6+0.4*kw[j]))
		}
	}
	w.popCum, w.entCum = cumulative(pop), cumulative(ent)
	w.ids = newIDSpace(seed, pop)
	w.surCum = cumWeighted(surnames)
	w.statCum = cumWeighted(statuses)
	w.taxCum = cumWeighted(taxGrades)
	w.cardCum = cumWeighted(cardTypes)
	iw := make([]float64, len(industries))
	for i, in := range industries {
		iw[i] = in.weight
	}
	w.indCum = cumulative(iw)
	// Enterprise formation grew about 11% a year since the 1990s.
	yw := make([]float64, refYear-firstYear+1)
	for k := range yw {
		yw[k] = math.Exp(0.11 * float64(k))
	}
	w.estCum = cumulative(yw)
	total := w.estCum[len(yw)-1]
	w.yearStart = make([]int64, len(yw)+1)
	for k := range yw {
		w.yearStart[k+1] = int64(math.Round(float64(w.nEnt) * w.estCum[k] / total))
	}
	w.yearStart[len(yw)] = w.nEnt
	return w
}

func cumWeighted(ws []weighted) []float64 {
	x := make([]float64, len(ws))
	for i, v := range ws {
		x[i] = v.w
	}
	return cumulative(x)
}

// establishedBy is the number of enterprises established on or before the
// end of year y.
func (w *world) establishedBy(y int) int64 {
	k := min(max(y-firstYear+1, 0), len(w.yearStart)-1)
	return w.yearStart[k]
}

// enterprise is one generated registry record.
type enterprise struct {
	code     string
	name     string
	legalRep string
	ind      *industry
	county   *county
	y, m, d  int
	status   string
	capital  float64 // 万元
	address  string
	phone    string
}

// The attributes other datasets need (status, industry, district) come
// from sub-streams of their own, so a reference to an employer does not
// have to rebuild the whole record.
func (w *world) entRNG(i int64) rng { return newRNG(w.seed, streamEnterprise, uint64(i)) }

func (w *world) entStatus(i int64) string {
	r := w.entRNG(i).sub(1)
	s := statuses[r.pick(w.statCum)].s
	// Recently founded firms have rarely been struck off yet.
	if s != "存续" && w.entYear(i) >= refYear-2 && r.float() < 0.7 {
		s = "存续"
	}
	return s
}

func (w *world) entIndustry(i int64) *industry {
	r := w.entRNG(i).sub(2)
	return &industries[r.pick(w.indCum)]
}

func (w *world) entCounty(i int64) *county {
	r := w.entRNG(i).sub(3)
	return &w.counties[r.pick(w.entCum)]
}

func (w *world) entYear(i int64) int {
	lo, hi := 0, len(w.yearStart)-2
	for lo < hi { // last k with yearStart[k] <= i
		m := (lo + hi + 1) / 2
		if w.yearStart[m] <= i {
			lo = m
		} else {
			hi = m - 1
		}
	}
	return firstYear + lo
}

// Affine maps (a·i + b) mod n with gcd(a, n) = 1 are bijections, so the
// organisation code bodies of distinct enterprises never collide.
const (
	digitsMod = 100_000_000
	digitsA   = 73_939_133
	maMod     = 31 * 31 * 31 * 31 * 31 * 31
	maA       = 104_729
)

const creditCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// entCode is enterprise i's unified social credit code. Codes for firms
// founded before the 2015 reform carry their old numeric organisation
// code; later ones the "MA" series.
func (w *world) entCode(i int64) string {
	c := w.entCounty(i)
	var body [8]byte
	if w.entYear(i) < 2015 {
		v := (uint64(i)*digitsA + mix(w.seed)%digitsMod) % digitsMod
		for k := 7; k >= 0; k-- {
			body[k] = byte('0' + v%10)
			v /= 10
		}
	} else {
		v := (uint64(i)*maA + mix(w.seed)%maMod) % maMod
		body[0], body[1] = 'M', 'A'
		for k := 7; k >= 2; k-- {
			body[k] = creditCharset[v%31]
			v /= 31
		}
	}
	return identity.MakeCreditCode('9', '1', c.code, string(body[:]))
}

func (w *world) enterprise(i int64) enterprise {
	r := w.entRNG(i)
	e := enterprise{
		code:   w.entCode(i),
		ind:    w.entIndustry(i),
		county: w.entCounty(i),
		status: w.entStatus(i),
		y:      w.entYear(i),
	}
	e.m, e.d = monthDay(e.y, r.intn(daysInYear(e.y)))
	e.capital = niceCapital(r.lognormal(e.ind.capital, 1.1))
	var sb strings.Builder
	sb.WriteString(strings.TrimSuffix(e.county.cityName, "市"))
	t1, t2 := tradeNames[r.intn(len(tradeNames))], tradeNames[r.intn(len(tradeNames))]
	sb.WriteRune(t1)
	if t2 != t1 {
		sb.WriteRune(t2)
	}
	sb.WriteString(e.ind.word)
	switch x := r.float(); {
	case x < 0.03 && e.capital >= 1000:
		sb.WriteString("股份有限公司")
	case x < 0.25:
		sb.WriteString("有限责任公司")
	default:
		sb.WriteString("有限公司")
	}
	e.name = sb.String()
	e.legalRep = w.name(&r, r.float() < 0.7)
	e.address = w.address(&r, e.county)
	if r.float() < 0.55 {
		e.phone = mobile(&r)
	} else {
		e.phone = cities[e.county.city].area + "-" + string(appendPad(nil, 80000000+r.intn(9000000), 8))
	}
	return e
}

// niceCapital rounds to the one or two significant figures registrations
// use (50, 100, 300, 1200 万元), at least 1 万元.
func niceCapital(x float64) float64 {
	if x < 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x))-1)
	if x < 100 {
		p = math.Pow(10, math.Floor(math.Log10(x)))
	}
	return math.Round(x/p) * p
}

func (w *world) name(r *rng, male bool) string {
	var sb strings.Builder
	sb.WriteString(surnames[r.pick(w.surCum)].s)
	pool := givenFemale
	if male {
		pool = givenMale
	}
	sb.WriteRune(pool[r.intn(len(pool))])
	if r.float() < 0.8 {
		sb.WriteRune(pool[r.intn(len(pool))])
	}
	return sb.String()
}

func (w *world) address(r *rng, c *county) string {
	b := make([]byte, 0, 64)
	b = append(b, "江西省"...)
	b = append(b, c.cityName...)
	b = append(b, c.name...)
	b = append(b, roads[r.intn(len(roads))]...)
	b = append(b, roadSuffix[r.intn(len(roadSuffix))]...)
	b = appendPad(b, 1+int(r.lognormal(60, 0.9)), 1)
	b = append(b, "号"...)
	return string(b)
}

var mobilePrefixes = []string{"130", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "157", "158", "159", "166", "173", "177", "180", "181", "183", "187", "188", "189", "191", "198", "199"}

func mobile(r *rng) string {
	b := make([]byte, 0, 11)
	b = append(b, mobilePrefixes[r.intn(len(mobilePrefixes))]...)
	return string(appendPad(b, r.intn(100_000_000), 8))
}

// person is one member of the insured population: everyone in social
// insurance, the housing fund and among home buyers is drawn from it.
type person struct {
	id       string
	name     string
	male     bool
	y, m, d  int
	county   *county
	phone    string
	employer int64
}

func (w *world) person(i int64) person {
	r := newRNG(w.seed, streamPerson, uint64(i))
	c, y, m, d, seq := w.ids.slot(i)
	p := person{county: &w.counties[c], y: y, m: m, d: d, male: seq%2 == 1}
	p.id = string(appendID(make([]byte, 0, 18), p.county.code, p.y, p.m, p.d, seq))
	p.name = w.name(&r, p.male)
	p.phone = mobile(&r)
	p.employer = w.employer(&r)
	return p
}

// employer draws an enterprise that exists and is active during the
// reporting months. Older (lower-numbered) firms are drawn more often,
// since they tend to be the larger employers.
func (w *world) employer(r *rng) int64 {
	n := w.establishedBy(refYear - 1)
	if n == 0 {
		n = w.nEnt
	}
	var i int64
	for try := 0; try < 16; try++ {
		u := r.float()
		i = int64(float64(n) * u * u)
		if w.entStatus(i) == "存续" {
			return i
		}
	}
	for k := int64(1); k < n; k++ { // all draws inactive: take the next active firm
		if j := (i + k) % n; w.entStatus(j) == "存续" {
			return j
		}
	}
	return i
}

// monthDay turns a zero-based day of year into month and day.
func monthDay(y, doy int) (int, int) {
	m := 1
	for doy >= daysIn(y, m) {
		doy -= daysIn(y, m)
		m++
	}
	return m, doy + 1
}

func daysInYear(y int) int {
	if isLeap(y) {
		return 366
	}
	return 365
}

func appendDate(b []byte, y, m, d int) []byte {
	b = appendPad(b, y, 4)
	b = append(b, '-')
	b = appendPad(b, m, 2)
	b = append(b, '-')
	return appendPad(b, d, 2)
}
