package synth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
)

const testScale = 0.001

// table is a generated dataset read back: rows keyed by column name.
type table struct {
	d    Dataset
	cols map[string]int
	rows [][]string
}

func (tb *table) get(row []string, col string) string { return row[tb.cols[col]] }

func dataset(t testing.TB, name string, scale float64) Dataset {
	t.Helper()
	for _, d := range Catalog(scale) {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no dataset %s", name)
	return Dataset{}
}

// generate writes a dataset and parses it back with encoding/csv, which
// also checks that the quoting is well-formed.
func generate(t testing.TB, name string, seed uint64) *table {
	t.Helper()
	d := dataset(t, name, testScale)
	var b bytes.Buffer
	if err := WriteCSV(context.Background(), &b, d, seed, nil); err != nil {
		t.Fatalf("WriteCSV(%s): %v", name, err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("%s: reading CSV back: %v", name, err)
	}
	tb := &table{d: d, cols: map[string]int{}, rows: recs[1:]}
	for i, c := range d.Columns {
		if recs[0][i] != c.Name {
			t.Fatalf("%s: header column %d is %q, want %q", name, i, recs[0][i], c.Name)
		}
		tb.cols[c.Name] = i
	}
	if int64(len(tb.rows)) != d.Rows {
		t.Fatalf("%s: %d rows, catalog says %d", name, len(tb.rows), d.Rows)
	}
	return tb
}

func hashOf(t *testing.T, d Dataset, seed uint64) [32]byte {
	t.Helper()
	h := sha256.New()
	if err := WriteCSV(context.Background(), h, d, seed, nil); err != nil {
		t.Fatal(err)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func TestDeterminism(t *testing.T) {
	for _, d := range Catalog(testScale) {
		t.Run(d.Name, func(t *testing.T) {
			a, b, c := hashOf(t, d, 42), hashOf(t, d, 42), hashOf(t, d, 43)
			if a != b {
				t.Error("two runs with the same seed differ")
			}
			if a == c {
				t.Error("different seeds give the same output")
			}
		})
	}
}

func TestCatalog(t *testing.T) {
	full := Catalog(1)
	if len(full) != 7 {
		t.Fatalf("%d datasets, want 7", len(full))
	}
	seen := map[string]bool{}
	for _, d := range full {
		if seen[d.Name] {
			t.Errorf("dataset %s twice", d.Name)
		}
		seen[d.Name] = true
		if d.Title == "" || d.Department == "" || d.Description == "" || d.Domain == "" || d.Grade == "" || d.Frequency == "" {
			t.Errorf("%s: empty metadata: %+v", d.Name, d)
		}
		if d.DepartmentKind != "department" && d.DepartmentKind != "utility" {
			t.Errorf("%s: department kind %q", d.Name, d.DepartmentKind)
		}
		cols := map[string]bool{}
		for _, c := range d.Columns {
			cols[c.Name] = true
		}
		if d.PrivacyUnit != "" && !cols[d.PrivacyUnit] {
			t.Errorf("%s: privacy unit %s is not a column", d.Name, d.PrivacyUnit)
		}
	}
	// The registry's vocabulary (internal/registry/form.go), mirrored here
	// so a drift shows up in this package's tests.
	domains := "market tax social_security housing_fund real_estate transport utilities"
	grades := "important general-4 general-3 general-2 general-1"
	freqs := "realtime daily weekly monthly quarterly yearly"
	for _, d := range full {
		if !slices.Contains(strings.Fields(domains), d.Domain) || !slices.Contains(strings.Fields(grades), d.Grade) ||
			!slices.Contains(strings.Fields(freqs), d.Frequency) {
			t.Errorf("%s: domain %q, grade %q or frequency %q outside the registry's vocabulary", d.Name, d.Domain, d.Grade, d.Frequency)
		}
		if d.GradeLabel == "" || d.GradeLabel == d.Grade || d.DomainLabel == "" {
			t.Errorf("%s: Chinese labels %q, %q", d.Name, d.GradeLabel, d.DomainLabel)
		}
	}
	rows := map[string]int64{}
	for _, d := range full {
		rows[d.Name] = d.Rows
	}
	if rows["enterprise_registry"] < 1_000_000 {
		t.Errorf("%d enterprises at scale 1, want at least 1,000,000", rows["enterprise_registry"])
	}
	if persons := rows["social_insurance"] / siMonths; persons < 2_000_000 {
		t.Errorf("%d insured persons at scale 1, want at least 2,000,000", persons)
	}
}

// Identifying columns carry the kind the privacy policy keys on.
func TestColumnKinds(t *testing.T) {
	tests := []struct{ dataset, column, kind string }{
		{"enterprise_registry", "legal_rep", DirectIdentifier},
		{"enterprise_registry", "phone", DirectIdentifier},
		{"social_insurance", "id_number", DirectIdentifier},
		{"social_insurance", "name", DirectIdentifier},
		{"social_insurance", "phone", DirectIdentifier},
		{"social_insurance", "birth_date", QuasiIdentifier},
		{"social_insurance", "gender", QuasiIdentifier},
		{"social_insurance", "hukou_district_code", QuasiIdentifier},
		{"social_insurance", "employer_credit_code", QuasiIdentifier},
		{"social_insurance", "base", Sensitive},
		{"social_insurance", "pension_person", Sensitive},
		{"housing_fund", "id_number", DirectIdentifier},
		{"housing_fund", "name", DirectIdentifier},
		{"housing_fund", "employer_credit_code", QuasiIdentifier},
		{"housing_fund", "monthly_deposit", Sensitive},
		{"housing_fund", "balance", Sensitive},
		{"real_estate_transactions", "buyer_id_number", DirectIdentifier},
		{"real_estate_transactions", "buyer_name", DirectIdentifier},
		{"real_estate_transactions", "address", QuasiIdentifier},
		{"real_estate_transactions", "price", Sensitive},
		{"tax_credit", "grade", Sensitive},
		{"electricity_consumption", "kwh", Sensitive},
		{"bus_ridership", "boardings", ""},
	}
	for _, tt := range tests {
		t.Run(tt.dataset+"."+tt.column, func(t *testing.T) {
			d := dataset(t, tt.dataset, 1)
			for _, c := range d.Columns {
				if c.Name == tt.column {
					if c.Kind != tt.kind {
						t.Errorf("kind %q, want %q", c.Kind, tt.kind)
					}
					return
				}
			}
			t.Errorf("no column %s", tt.column)
		})
	}
	// No column that names a person may be left unmarked.
	for _, d := range Catalog(testScale) {
		for _, c := range d.Columns {
			if (strings.Contains(c.Name, "id_number") || c.Name == "name" && d.PrivacyUnit == "id_number") && c.Kind != DirectIdentifier {
				t.Errorf("%s.%s: kind %q, want direct identifier", d.Name, c.Name, c.Kind)
			}
		}
	}
}

func TestIdentityNumbers(t *testing.T) {
	tb := generate(t, "social_insurance", 1)
	regions := region.Default()
	ids := map[string]string{}
	for _, r := range tb.rows {
		id := tb.get(r, "id_number")
		if !ValidID(id) {
			t.Fatalf("invalid identity number %s", id)
		}
		y, m, d := idBirth(id)
		if got, want := tb.get(r, "birth_date"), dateString(y, m, d); got != want {
			t.Errorf("%s: birth date %s, the number says %s", id, got, want)
		}
		gender := "女"
		if idMale(id) {
			gender = "男"
		}
		if got := tb.get(r, "gender"); got != gender {
			t.Errorf("%s: gender %s, the 17th digit says %s", id, got, gender)
		}
		if got := tb.get(r, "hukou_district_code"); got != id[:6] {
			t.Errorf("%s: hukou district %s", id, got)
		}
		if !regions.Contains("360000", id[:6]) {
			t.Errorf("%s: region %s is not in Jiangxi", id, id[:6])
		}
		if age := refYear - y; age < 18 || age > 60 {
			t.Errorf("%s: age %d outside working ages", id, age)
		}
		// A person's rows agree; distinct persons have distinct numbers.
		if prev, ok := ids[id]; ok && prev != tb.get(r, "name") {
			t.Errorf("%s belongs to both %s and %s", id, prev, tb.get(r, "name"))
		}
		ids[id] = tb.get(r, "name")
	}
	if want := int(tb.d.Rows / siMonths); len(ids) != want {
		t.Errorf("%d distinct persons, want %d", len(ids), want)
	}
}

func TestCreditCodes(t *testing.T) {
	tb := generate(t, "enterprise_registry", 1)
	regions := region.Default()
	seen := map[string]bool{}
	for _, r := range tb.rows {
		code := tb.get(r, "credit_code")
		if got, err := identity.ValidateCreditCode(code); err != nil || got != code {
			t.Fatalf("credit code %s: %v", code, err)
		}
		if seen[code] {
			t.Errorf("credit code %s twice", code)
		}
		seen[code] = true
		dc := tb.get(r, "district_code")
		if code[2:8] != dc {
			t.Errorf("%s: region part %s, district %s", code, code[2:8], dc)
		}
		reg, ok := regions.Lookup(dc)
		if !ok || reg.NameZH != tb.get(r, "district") || !regions.Contains("360000", dc) {
			t.Errorf("%s: district %s %s is not a Jiangxi county", code, dc, tb.get(r, "district"))
		}
		if city, _ := regions.Parent(dc); city.NameZH != tb.get(r, "city") {
			t.Errorf("%s: city %s for district %s", code, tb.get(r, "city"), dc)
		}
		if !strings.HasPrefix(tb.get(r, "address"), "江西省"+tb.get(r, "city")+tb.get(r, "district")) {
			t.Errorf("%s: address %s outside its district", code, tb.get(r, "address"))
		}
		est := tb.get(r, "established")
		if est[:4] >= "2015" != (code[8:10] == "MA") {
			t.Errorf("%s: established %s; codes issued since 2015 use the MA series", code, est)
		}
	}
}

// The datasets generated with one seed and scale describe one world.
func TestReferentialConsistency(t *testing.T) {
	const seed = 9
	reg := generate(t, "enterprise_registry", seed)
	ents := map[string][]string{}
	for _, r := range reg.rows {
		ents[reg.get(r, "credit_code")] = r
	}
	si := generate(t, "social_insurance", seed)
	persons := map[string][]string{} // id -> SI row
	for _, r := range si.rows {
		id, emp := si.get(r, "id_number"), si.get(r, "employer_credit_code")
		e, ok := ents[emp]
		if !ok {
			t.Fatalf("%s works for %s, which is not in the registry", id, emp)
		}
		if reg.get(e, "status") != "存续" || reg.get(e, "established") >= "2025" {
			t.Errorf("%s works for %s, %s since %s", id, emp, reg.get(e, "status"), reg.get(e, "established"))
		}
		if si.get(r, "employer_name") != reg.get(e, "name") {
			t.Errorf("%s: employer name %s, registry says %s", id, si.get(r, "employer_name"), reg.get(e, "name"))
		}
		persons[id] = r
	}
	fund := generate(t, "housing_fund", seed)
	for _, r := range fund.rows {
		id := fund.get(r, "id_number")
		p, ok := persons[id]
		if !ok {
			t.Fatalf("fund member %s is not insured", id)
		}
		if fund.get(r, "name") != si.get(p, "name") || fund.get(r, "employer_credit_code") != si.get(p, "employer_credit_code") ||
			fund.get(r, "deposit_base") != si.get(p, "base") {
			t.Errorf("fund row %v disagrees with insurance row %v", r, p)
		}
	}
	estate := generate(t, "real_estate_transactions", seed)
	for _, r := range estate.rows {
		id := estate.get(r, "buyer_id_number")
		p, ok := persons[id]
		if !ok {
			t.Fatalf("buyer %s is not in the population", id)
		}
		if estate.get(r, "buyer_name") != si.get(p, "name") {
			t.Errorf("buyer %s named %s, insured as %s", id, estate.get(r, "buyer_name"), si.get(p, "name"))
		}
	}
	tax := generate(t, "tax_credit", seed)
	for _, r := range tax.rows {
		code := tax.get(r, "credit_code")
		e, ok := ents[code]
		if !ok {
			t.Fatalf("tax grade for %s, not in the registry", code)
		}
		if y := tax.get(r, "year"); y < reg.get(e, "established")[:4] {
			t.Errorf("%s graded for %s, established %s", code, y, reg.get(e, "established"))
		} else if y == reg.get(e, "established")[:4] && tax.get(r, "grade") != "M" {
			t.Errorf("%s graded %s in its first year, want M", code, tax.get(r, "grade"))
		}
	}
	power := generate(t, "electricity_consumption", seed)
	for _, r := range power.rows {
		code := power.get(r, "credit_code")
		if power.get(r, "account_type") == "居民" {
			if code != "" {
				t.Errorf("household account with credit code %s", code)
			}
			continue
		}
		e, ok := ents[code]
		if !ok {
			t.Fatalf("electricity account for %s, not in the registry", code)
		}
		if power.get(r, "district_code") != reg.get(e, "district_code") {
			t.Errorf("%s: district %s, registry says %s", code, power.get(r, "district_code"), reg.get(e, "district_code"))
		}
	}
}

// Amounts are never negative and dates fall in the period a dataset covers.
func TestValueSanity(t *testing.T) {
	windows := map[string][2]string{ // dataset -> [earliest, latest] date
		"enterprise_registry":      {"1993-01-01", "2025-12-31"},
		"social_insurance":         {"1965-01-01", "2007-12-31"}, // birth dates, ages 18..60
		"real_estate_transactions": {"2025-01-01", "2025-12-31"},
		"bus_ridership":            {"2025-11-03", "2025-11-09"},
	}
	for _, d := range Catalog(testScale) {
		t.Run(d.Name, func(t *testing.T) {
			tb := generate(t, d.Name, 5)
			for _, r := range tb.rows {
				for i, c := range d.Columns {
					v := r[i]
					switch c.Type {
					case "DOUBLE", "BIGINT":
						x, err := strconv.ParseFloat(v, 64)
						if err != nil || x < 0 {
							t.Fatalf("%s = %q: not a non-negative number", c.Name, v)
						}
					case "DATE":
						w, ok := windows[d.Name]
						if !ok {
							t.Fatalf("no date window for %s", d.Name)
						}
						y, m, dd := atoi(v[:4]), atoi(v[5:7]), atoi(v[8:10])
						if len(v) != 10 || m < 1 || m > 12 || dd < 1 || dd > daysIn(y, m) || v < w[0] || v > w[1] {
							t.Fatalf("%s = %q: not a date in %v", c.Name, v, w)
						}
					case "VARCHAR":
						if v == "" && c.Name != "credit_code" && c.Name != "industry_division" {
							t.Fatalf("%s is empty", c.Name)
						}
					}
				}
			}
		})
	}
}

// Phone numbers are eleven-digit mobiles or a Jiangxi area code and an
// eight-digit number.
func TestPhones(t *testing.T) {
	tb := generate(t, "enterprise_registry", 3)
	for _, r := range tb.rows {
		p := tb.get(r, "phone")
		mobile := len(p) == 11 && p[0] == '1'
		landline := len(p) == 13 && strings.HasPrefix(p, "07") && p[4] == '-'
		if !mobile && !landline {
			t.Errorf("phone %q", p)
		}
	}
}

func TestWriteCSVErrors(t *testing.T) {
	d := dataset(t, "social_insurance", testScale)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WriteCSV(ctx, io.Discard, d, 1, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v, want context.Canceled", err)
	}
	if err := WriteCSV(context.Background(), io.Discard, Dataset{Name: "nope", Scale: 1}, 1, nil); err == nil {
		t.Error("unknown dataset accepted")
	}
	d.Scale = 0
	if err := WriteCSV(context.Background(), io.Discard, d, 1, nil); err == nil {
		t.Error("dataset without a scale accepted")
	}
}

func TestProgress(t *testing.T) {
	d := dataset(t, "social_insurance", 0.01)
	var last, calls int64
	err := WriteCSV(context.Background(), io.Discard, d, 1, func(n int64) {
		if n < last {
			t.Errorf("progress went back from %d to %d", last, n)
		}
		last, calls = n, calls+1
	})
	if err != nil {
		t.Fatal(err)
	}
	if last != d.Rows || calls < 2 {
		t.Errorf("last progress %d after %d calls, want %d after several", last, calls, d.Rows)
	}
}
