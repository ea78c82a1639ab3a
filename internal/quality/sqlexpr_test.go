package quality

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/pii"
)

// genIDs returns n resident ID numbers, about half valid and the rest
// corrupted the ways real data is: a wrong check digit, two digits swapped,
// an impossible birth date, a lower-case x, a wrong length, a letter.
func genIDs(rng *rand.Rand, n int) []string {
	regions := []string{"360102", "360103", "360111", "360121", "361002", "110101"}
	out := make([]string, 0, n)
	for len(out) < n {
		y, m, d := 1850+rng.IntN(250), 1+rng.IntN(12), 1+rng.IntN(31)
		body := fmt.Sprintf("%s%04d%02d%02d%03d", regions[rng.IntN(len(regions))], y, m, d, rng.IntN(1000))
		id := body + string(pii.ResidentCheckDigit(body))
		switch rng.IntN(10) {
		case 0: // wrong check digit
			c := "0123456789X"[rng.IntN(11)]
			id = body + string(c)
		case 1: // adjacent digits swapped
			i := rng.IntN(16)
			b := []byte(id)
			b[i], b[i+1] = b[i+1], b[i]
			id = string(b)
		case 2:
			id = strings.ToLower(id)
		case 3:
			id = id[:17]
		case 4:
			id = id[:5] + "A" + id[6:]
		case 5: // Feb 29 in a year that may not be leap, or day 31 in a short month
			body = fmt.Sprintf("%s%04d%s%03d", body[:6], y, []string{"0229", "0431", "0230", "1301", "0000"}[rng.IntN(5)], rng.IntN(1000))
			id = body + string(pii.ResidentCheckDigit(body))
		}
		out = append(out, id)
	}
	return out
}

// genCreditCodes returns n credit codes, valid and corrupted: wrong final
// check character, wrong organisation-code check character, a forbidden
// letter, lower case and surrounding spaces (which the validator accepts).
func genCreditCodes(rng *rand.Rand, n int) []string {
	const body = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	out := make([]string, 0, n)
	for len(out) < n {
		b8 := make([]byte, 8)
		for i := range b8 {
			b8[i] = body[rng.IntN(len(body))]
		}
		code := identity.MakeCreditCode("159"[rng.IntN(3)], "123"[rng.IntN(3)], "360102", string(b8))
		switch rng.IntN(9) {
		case 0:
			c := []byte(code)
			c[17] = body[rng.IntN(len(body))]
			code = string(c)
		case 1:
			c := []byte(code)
			c[16] = "0123456789X"[rng.IntN(11)]
			code = string(c)
		case 2:
			code = code[:3] + "I" + code[4:]
		case 3:
			code = strings.ToLower(code)
		case 4:
			code = " " + code + " "
		case 5:
			code = code[:17]
		}
		out = append(out, code)
	}
	return out
}

var mobileOracle = regexp.MustCompile(mobileShape)

func genMobiles(rng *rand.Rand, n int) []string {
	out := make([]string, 0, n)
	for len(out) < n {
		v := fmt.Sprintf("1%d%09d", rng.IntN(10), rng.IntN(1_000_000_000))
		switch rng.IntN(6) {
		case 0:
			v = v[:10]
		case 1:
			v = "+86" + v
		case 2:
			v = v[:3] + "-" + v[3:]
		}
		out = append(out, v)
	}
	return out
}

func genDates(rng *rand.Rand, n int, layout string) []string {
	out := make([]string, 0, n)
	for len(out) < n {
		y, m, d := 1890+rng.IntN(200), 1+rng.IntN(13), 1+rng.IntN(31)
		v := strings.NewReplacer("2006", fmt.Sprintf("%04d", y), "01", fmt.Sprintf("%02d", m), "02", fmt.Sprintf("%02d", d),
			"15", fmt.Sprintf("%02d", rng.IntN(25)), "04", fmt.Sprintf("%02d", rng.IntN(61)), "05", fmt.Sprintf("%02d", rng.IntN(61))).Replace(layout)
		if rng.IntN(8) == 0 {
			v = v[:len(v)-1]
		}
		out = append(out, v)
	}
	return out
}

// TestFormatSQLMatchesGoValidators checks the SQL form of each format
// against the Go validator on thousands of generated values, valid and
// corrupted, on both engines. // R6.2: quality monitoring must judge
// check characters exactly as the rest of the platform does.
func TestFormatSQLMatchesGoValidators(t *testing.T) {
	rng := rand.New(rand.NewPCG(11643, 32100))
	const n = 3000
	tests := []struct {
		name   string
		rule   Rule
		values []string
		oracle func(string) bool
	}{
		{"id_card", Rule{Type: Format, Format: IDCard}, genIDs(rng, n), pii.ResidentIDValid},
		{"credit_code", Rule{Type: Format, Format: CreditCode}, genCreditCodes(rng, n),
			func(v string) bool { _, err := identity.ValidateCreditCode(v); return err == nil }},
		{"mobile", Rule{Type: Format, Format: Mobile}, genMobiles(rng, n), mobileOracle.MatchString},
		{"date", Rule{Type: Format, Format: Date, Layout: "2006-01-02"}, genDates(rng, n, "2006-01-02"),
			func(v string) bool { _, err := time.Parse("2006-01-02", v); return err == nil }},
		{"date_time_cn", Rule{Type: Format, Format: Date, Layout: "2006年01月02日 15:04:05"}, genDates(rng, n, "2006年01月02日 15:04:05"),
			func(v string) bool { _, err := time.Parse("2006年01月02日 15:04:05", v); return err == nil }},
	}
	eachDomain(t, func(t *testing.T, d testDomain) {
		ctx := context.Background()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rows := make([][]string, len(tt.values))
				valid := 0
				for i, v := range tt.values {
					rows[i] = []string{intLit(i), lit(v)}
					if tt.oracle(v) {
						valid++
					}
				}
				if valid < n/10 || valid > n*9/10 {
					t.Fatalf("generator gave %d valid of %d: not a useful mix", valid, n)
				}
				table := "fmt_" + tt.name
				createTable(t, d, table, []string{"id INTEGER", "v VARCHAR"}, rows)
				r := tt.rule
				r.ID, r.Column = tt.name, "v"
				p, err := compile(ctx, d, Rules{Key: "id", Rules: []Rule{r}}, table, Env{})
				if err != nil {
					t.Fatal(err)
				}
				failed := map[int]bool{}
				q := "SELECT CAST(" + p.keyText + " AS INTEGER), " + p.rules[0].fail + " FROM " + p.inner()
				err = d.Query(ctx, q, func(scan func(...any) error) error {
					var id int32
					var f bool
					if err := scan(&id, &f); err != nil {
						return err
					}
					failed[int(id)] = f
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				mismatches := 0
				for i, v := range tt.values {
					if want := !tt.oracle(v); failed[i] != want {
						if mismatches++; mismatches <= 10 {
							t.Errorf("%q: SQL says failed=%v, Go validator says %v", v, failed[i], want)
						}
					}
				}
			})
		}
	})
}

func TestCompileLayout(t *testing.T) {
	tests := []struct {
		layout string
		ok     bool
	}{
		{"2006-01-02", true},
		{"20060102", true},
		{"2006/01/02 15:04:05", true},
		{"2006-01-02T15:04:05", true},
		{"2006年01月02日", true},
		{"Jan 2, 2006", false},
		{"2006-1-2", false},
		{"15:04", false},
		{"2006-01-02-01", false},
	}
	for _, tt := range tests {
		_, err := compileLayout(tt.layout)
		if (err == nil) != tt.ok {
			t.Errorf("compileLayout(%q): %v, want ok=%v", tt.layout, err, tt.ok)
		}
	}
}
