package synth

import (
	"slices"
	"strconv"
	"testing"
)

func floats(tb *table, col string, keep func(row []string) bool) []float64 {
	var out []float64
	for _, r := range tb.rows {
		if keep == nil || keep(r) {
			x, _ := strconv.ParseFloat(tb.get(r, col), 64)
			out = append(out, x)
		}
	}
	return out
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}

func mean(x []float64) float64 {
	t := 0.0
	for _, v := range x {
		t += v
	}
	return t / float64(len(x))
}

// The generated data have the shapes the demo's analyses expect to find.
// Bounds are loose: these are smoke tests of the model, not statistics.
func TestDistributions(t *testing.T) {
	const seed = 11
	reg := generate(t, "enterprise_registry", seed)
	si := generate(t, "social_insurance", seed)
	bus := generate(t, "bus_ridership", seed)
	power := generate(t, "electricity_consumption", seed)
	estate := generate(t, "real_estate_transactions", seed)

	city := func(code string) func([]string) bool {
		return func(r []string) bool { return r[si.cols["hukou_district_code"]][:4] == code[:4] }
	}
	share := func(code string) float64 {
		return float64(len(floats(si, "base", city(code)))) / float64(len(si.rows))
	}
	capital := floats(reg, "registered_capital", nil)
	wages := floats(si, "base", nil)
	inSection := func(s string) func([]string) bool {
		return func(r []string) bool { return reg.get(r, "industry_section") == s }
	}
	atHour := func(h string, weekday bool) func([]string) bool {
		return func(r []string) bool {
			return bus.get(r, "hour") == h && (bus.get(r, "date") < "2025-11-08") == weekday
		}
	}
	household := func(m string) func([]string) bool {
		return func(r []string) bool { return power.get(r, "account_type") == "居民" && power.get(r, "month") == m }
	}
	inCity := func(prefix string, want bool) func([]string) bool {
		return func(r []string) bool { return (estate.get(r, "district_code")[:4] == prefix) == want }
	}
	tests := []struct {
		name string
		ok   bool
		got  any
	}{
		{"Ganzhou has more people than Nanchang", share("360700") > share("360100"), [2]float64{share("360700"), share("360100")}},
		{"Nanchang has more people than Xinyu", share("360100") > 2*share("360500"), [2]float64{share("360100"), share("360500")}},
		{"Nanchang near its census share (13.9%)", share("360100") > 0.10 && share("360100") < 0.18, share("360100")},
		{"capital is right-skewed", mean(capital) > 2*median(capital), [2]float64{mean(capital), median(capital)}},
		{"capital median in the tens to hundreds of 万元", median(capital) >= 30 && median(capital) <= 500, median(capital)},
		{"wholesale and retail lead the industry mix", len(floats(reg, "registered_capital", inSection("F"))) > len(floats(reg, "registered_capital", inSection("C"))), nil},
		{"wage median plausible", median(wages) >= 4200 && median(wages) <= 8000, median(wages)},
		{"wages right-skewed", mean(wages) > median(wages), [2]float64{mean(wages), median(wages)}},
		{"weekday morning rush", mean(floats(bus, "boardings", atHour("8", true))) > 2*mean(floats(bus, "boardings", atHour("11", true))), nil},
		{"weekend has no rush", mean(floats(bus, "boardings", atHour("8", false))) < mean(floats(bus, "boardings", atHour("8", true))), nil},
		{"households use more in August than April", mean(floats(power, "kwh", household("2025-08"))) > 1.5*mean(floats(power, "kwh", household("2025-04"))), nil},
		{"Nanchang homes cost more per m²", median(floats(estate, "unit_price", inCity("3601", true))) > median(floats(estate, "unit_price", inCity("3601", false))), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("does not hold (%v)", tt.got)
			}
		})
	}
}
