package synth

import (
	"math"
	"strconv"
)

func genRegistry(w *world, s *sink) error {
	for i := int64(0); i < w.nEnt; i++ {
		e := w.enterprise(i)
		r := s.rec
		r[0], r[1], r[2] = e.code, e.name, e.legalRep
		r[3], r[4], r[5], r[6] = e.ind.section, e.ind.sectionName, e.ind.division, e.ind.divisionName
		r[7], r[8], r[9] = e.county.cityName, e.county.code, e.county.name
		r[10], r[11] = e.address, capitalString(e.capital)
		r[12], r[13], r[14] = dateString(e.y, e.m, e.d), e.status, e.phone
		if err := s.row(); err != nil {
			return err
		}
	}
	return nil
}

// genTax writes each enterprise's grades for the evaluation years it
// existed in. A firm keeps a disposition across years; one set up in the
// year is graded M, as the rules prescribe for new taxpayers, and firms
// struck off lean to D.
func genTax(w *world, s *sink) error {
	last := taxFirst + taxYears - 1
	n := w.establishedBy(last)
	for i := int64(0); i < n; i++ {
		year := w.entYear(i)
		code, status := w.entCode(i), w.entStatus(i)
		ind, c := w.entIndustry(i), w.entCounty(i)
		r := newRNG(w.seed, streamTax, uint64(i))
		base := r.pick(w.taxCum)
		for y := max(taxFirst, year); y <= last; y++ {
			g := base
			switch {
			case y == year:
				g = 2 // M
			case r.float() < 0.25:
				g = r.pick(w.taxCum)
			}
			if status == "吊销" && y == last && y != year {
				g = 4 // D
			}
			rec := s.rec
			rec[0], rec[1], rec[2], rec[3], rec[4] = code, strconv.Itoa(y), taxGrades[g].s, c.code, ind.section
			if err := s.row(); err != nil {
				return err
			}
		}
	}
	return nil
}

// wage is a person's monthly contribution base: log-normal around an
// industry-dependent median, clamped to the province's floor and ceiling
// (illustrative figures of 60% and 300% of the average wage).
func wage(r *rng, ind *industry) float64 {
	const floor, ceiling = 4200, 21000
	x := r.lognormal(5600*ind.salary, 0.5)
	return math.Round(min(max(x, floor), ceiling))
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

func genSocial(w *world, s *sink) error {
	for i := int64(0); i < w.nPerson; i++ {
		p := w.person(i)
		emp := w.enterprise(p.employer)
		r := newRNG(w.seed, streamPerson, uint64(i)).sub(1)
		base := wage(&r, emp.ind)
		injury := 0.004
		switch emp.ind.section {
		case "B", "C", "E":
			injury = 0.012
		}
		gender := "女"
		if p.male {
			gender = "男"
		}
		amounts := [7]string{
			money(round2(base * 0.16)), money(round2(base * 0.08)),
			money(round2(base * 0.07)), money(round2(base * 0.02)),
			money(round2(base * 0.005)), money(round2(base * 0.005)),
			money(round2(base * injury)),
		}
		rec := s.rec
		rec[0], rec[1], rec[2], rec[3] = p.id, p.name, p.phone, gender
		rec[4], rec[5], rec[6], rec[7] = dateString(p.y, p.m, p.d), p.county.code, emp.code, emp.name
		rec[9] = money(base)
		copy(rec[10:], amounts[:])
		for m := 0; m < siMonths; m++ {
			rec[8] = monthString(refYear, siFirstMon+m)
			if err := s.row(); err != nil {
				return err
			}
		}
	}
	return nil
}

var fundRates = []weighted{{"0.05", 25}, {"0.08", 15}, {"0.10", 15}, {"0.12", 45}}

func genFund(w *world, s *sink) error {
	rateCum := cumWeighted(fundRates)
	n := fundMembers(w.nPerson)
	for k := int64(0); k < n; k++ {
		i := fundPerson(k)
		p := w.person(i)
		emp := w.enterprise(p.employer)
		wr := newRNG(w.seed, streamPerson, uint64(i)).sub(1)
		base := wage(&wr, emp.ind) // the same base as in social insurance
		r := newRNG(w.seed, streamFund, uint64(i))
		rate := fundRates[r.pick(rateCum)].s
		rv, _ := strconv.ParseFloat(rate, 64)
		deposit := math.Round(base * rv * 2) // employer and employee shares
		// The opening balance reflects years of deposits less past
		// withdrawals; younger members have had less time.
		years := float64(refYear-p.y-18) * r.float() * 0.6
		balance := round2(deposit * 12 * years * (0.3 + 0.7*r.float()))
		acct := cities[p.county.city].area[1:] + string(appendPad(nil, int((uint64(i)*digitsA+mix(w.seed)%digitsMod)%digitsMod), 8))
		rec := s.rec
		rec[0], rec[1], rec[2], rec[3] = acct, p.id, p.name, emp.code
		rec[5], rec[6], rec[7] = money(base), rate, money(deposit)
		for m := 0; m < siMonths; m++ {
			balance += deposit
			withdraw := 0.0
			if r.float() < 0.04 { // rent, loan repayment or purchase
				withdraw = round2(balance * (0.2 + 0.8*r.float()))
			}
			balance = round2(balance - withdraw)
			rec[4], rec[8], rec[9] = monthString(refYear, siFirstMon+m), money(withdraw), money(balance)
			if err := s.row(); err != nil {
				return err
			}
		}
	}
	return nil
}

func genEstate(w *world, s *sink) error {
	n := atScale(estateDeals, w.scale)
	monthCum := cumulative(estateMonth[:])
	for t := int64(0); t < n; t++ {
		r := newRNG(w.seed, streamEstate, uint64(t))
		buyer := w.person(int64(r.intn(int(w.nPerson))))
		c := buyer.county // most buy where they are registered
		if r.float() < 0.35 {
			c = &w.counties[r.pick(w.popCum)]
		}
		urban := c.code[4] < '2'
		unit := cities[c.city].price * r.lognormal(1, 0.22)
		kind := "存量房"
		if r.float() < 0.55 {
			kind = "新建商品房"
			unit *= 1.08
		}
		if urban {
			unit *= 1.25
		} else {
			unit *= 0.72
		}
		unit = math.Round(unit)
		area := round2(min(max(105+28*r.normal(), 35), 320))
		price := math.Round(area*unit/100) * 100
		m := r.pick(monthCum) + 1
		d := 1 + r.intn(daysIn(refYear, m))
		pid := make([]byte, 0, 28)
		pid = append(pid, c.code...)
		pid = appendPad(pid, 1+r.intn(30), 3)
		pid = appendPad(pid, 1+r.intn(20), 3)
		pid = append(pid, "GB"...)
		pid = appendPad(pid, 1+r.intn(5000), 5)
		pid = append(pid, 'F')
		pid = appendPad(pid, 1+r.intn(40), 4)
		pid = appendPad(pid, 101+r.intn(33)*100+r.intn(4), 4)
		addr := w.address(&r, c) + strconv.Itoa(1+r.intn(30)) + "栋" + strconv.Itoa(1+r.intn(33)) + "0" + strconv.Itoa(1+r.intn(4)) + "室"
		tid := "JY" + strconv.Itoa(refYear) + string(appendPad(nil, int(t)+1, 8))
		rec := s.rec
		rec[0], rec[1], rec[2], rec[3], rec[4], rec[5] = tid, string(pid), kind, c.code, c.name, addr
		rec[6], rec[7], rec[8] = money(area), money(price), money(unit)
		rec[9], rec[10], rec[11] = dateString(refYear, m, d), buyer.id, buyer.name
		if err := s.row(); err != nil {
			return err
		}
	}
	return nil
}

var stopSuffix = []string{"路口", "站", "路口", "小区", "公园", "北", "南", "立交", "商城", "学校"}

// poisson draws a count with mean lambda: exactly for small means,
// by the normal approximation above 30.
func poisson(r *rng, lambda float64) int64 {
	if lambda > 30 {
		return max(0, int64(math.Round(lambda+math.Sqrt(lambda)*r.normal())))
	}
	l, k, p := math.Exp(-lambda), int64(0), r.float()
	for p > l {
		k++
		p *= r.float()
	}
	return k
}

func genBus(w *world, s *sink) error {
	lines := atScale(busLines, w.scale)
	for li := int64(0); li < lines; li++ {
		num := li + 1
		if li >= 90 { // Nanchang also numbers lines in the 200s and 500s
			num = 200 + (li-90)*5
		}
		line := strconv.FormatInt(num, 10) + "路"
		lr := newRNG(w.seed, streamBus, uint64(li))
		busy := lr.lognormal(1, 0.5) // some lines carry far more
		for st := 0; st < busStops; st++ {
			sr := lr.sub(uint64(st))
			name := roads[sr.intn(len(roads))] + stopSuffix[sr.intn(len(stopSuffix))]
			// Stops near the middle of a line are busier than the termini.
			mid := 1 - math.Abs(float64(st)-busStops/2)/busStops
			base := 12 * busy * (0.5 + mid) * sr.lognormal(1, 0.6)
			for day := 0; day < busDays; day++ {
				date := dateString(refYear, 11, 3+day)
				weekend := day >= 5
				for h := 0; h < busHours; h++ {
					prof := hourProfile[h]
					if weekend {
						prof = weekendProfile[h]
					}
					for ct := range cardTypes {
						share := cardTypes[ct].w / 100
						switch {
						case ct == 1 && weekend: // students
							share *= 0.3
						case ct == 2 && (h >= 3 && h <= 6): // elders travel after the morning rush
							share *= 1.6
						case ct == 2 && (h <= 2 || h >= 12):
							share *= 0.5
						}
						cr := sr.sub(uint64(day*1000 + h*10 + ct))
						rec := s.rec
						rec[0], rec[1], rec[2], rec[3] = date, line, strconv.Itoa(st+1), name
						rec[4], rec[5] = strconv.Itoa(5+h), cardTypes[ct].s
						rec[6] = itoa(poisson(&cr, base*prof*share*4))
						if err := s.row(); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	return nil
}

const powerAccountMod = 1_000_000_000

func genPower(w *world, s *sink) error {
	hh := atScale(households, w.scale)
	total := w.nEnt + hh
	for a := int64(0); a < total; a++ {
		acct := "1" + string(appendPad(nil, int((uint64(a)*digitsA+mix(w.seed)%powerAccountMod)%powerAccountMod), 9))
		rec := s.rec
		var monthly float64
		var season *[12]float64
		estMonth, active := 0, true
		if a < w.nEnt {
			e := w.enterprise(a)
			r := newRNG(w.seed, streamPower, uint64(a))
			monthly = e.ind.power * r.lognormal(1, 0.9) * math.Pow(e.capital/e.ind.capital, 0.3)
			season = &industrySeason
			active = e.status == "存续"
			if e.y == refYear {
				estMonth = e.m
			}
			rec[1], rec[2], rec[3], rec[4], rec[5] = "非居民", e.code, e.county.code, e.ind.priceClass, e.ind.division
		} else {
			r := newRNG(w.seed, streamHousehold, uint64(a))
			c := &w.counties[r.pick(w.popCum)]
			monthly = r.lognormal(190, 0.45)
			season = &householdSeason
			rec[1], rec[2], rec[3], rec[4], rec[5] = "居民", "", c.code, "居民生活用电", ""
		}
		rec[0] = acct
		mr := newRNG(w.seed, streamPower, uint64(a)).sub(99)
		for m := 1; m <= 12; m++ {
			kwh := 0.0
			if active && m >= estMonth {
				kwh = math.Round(monthly*season[m-1]*mr.lognormal(1, 0.08)*10) / 10
			}
			rec[6], rec[7] = monthString(refYear, m), strconv.FormatFloat(kwh, 'f', 1, 64)
			if err := s.row(); err != nil {
				return err
			}
		}
	}
	return nil
}
