package workday

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"
)

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// R9.1, R11.1: filing deadlines of 20 working days on the official calendar.
func TestFilingDeadlines(t *testing.T) {
	c := Default()
	cases := []struct {
		from string
		n    int
		want string
	}{
		{"2025-12-15", 20, "2026-01-13"}, // across 元旦 2026 and its adjusted Sunday 1月4日
		{"2026-09-15", 20, "2026-10-19"}, // across 中秋, 国庆 and the adjusted 9月20日 and 10月10日
		{"2025-01-20", 5, "2025-01-26"},  // 1月26日 (Sunday) is a working day
		{"2025-01-27", 1, "2025-02-05"},  // the Spring Festival
		{"2026-02-13", 1, "2026-02-14"},  // Saturday 2月14日 is a working day
		{"2026-02-14", 1, "2026-02-24"},
		{"2026-05-08", 1, "2026-05-09"},
		{"2026-03-02", 0, "2026-03-02"},
	}
	for _, tc := range cases {
		r := c.Add(date(tc.from), tc.n)
		if got := r.Date.Format(time.DateOnly); got != tc.want || len(r.Assumed) != 0 {
			t.Errorf("Add(%s, %d) = %s %v, want %s", tc.from, tc.n, got, r.Assumed, tc.want)
		}
		if b := c.Between(date(tc.from), date(tc.want)); b.Days != tc.n {
			t.Errorf("Between(%s, %s) = %d, want %d", tc.from, tc.want, b.Days, tc.n)
		}
	}
}

// Every holiday and adjusted working day of 2025 and 2026, as the State
// Council notices list them (checked day by day against 6tail/lunar-go's
// independent table), and every other day by the weekend rule.
func TestEveryDayOfKnownYears(t *testing.T) {
	c := Default()
	off, work := 0, 0
	for d := date("2025-01-01"); d.Year() <= 2026; d = d.AddDate(0, 0, 1) {
		got, known := c.IsWorkday(d)
		if !known {
			t.Fatalf("%s: year not known", d.Format(time.DateOnly))
		}
		want := d.Weekday() != time.Saturday && d.Weekday() != time.Sunday
		if h := HolidayUtil.GetHoliday(d.Format(time.DateOnly)); h != nil {
			want = h.IsWork()
		}
		if got != want {
			t.Errorf("%s (%s): workday = %v, the oracle says %v", d.Format(time.DateOnly), d.Weekday(), got, want)
		}
		if day, ok := c.Lookup(d); ok {
			if day.Kind == Off {
				off++
			} else {
				work++
			}
		}
	}
	// 2025: 1+8+3+5+3+8 days off, 5 adjusted; 2026: 3+9+3+5+3+3+7, 6 adjusted.
	if off != 28+33 || work != 5+6 {
		t.Errorf("calendar has %d days off and %d adjusted working days, want 61 and 11", off, work)
	}
	// 261 weekdays, 18 of them holidays, plus 5 weekend working days.
	if n := c.Between(date("2024-12-31"), date("2025-12-31")).Days; n != 248 {
		t.Errorf("working days in 2025 = %d, want 248", n)
	}
}

// A year without data falls back to weekends and says so.
func TestUnknownYearWarns(t *testing.T) {
	c := Default()
	r := c.Add(date("2026-12-20"), 20)
	if len(r.Assumed) != 1 || r.Assumed[0] != 2027 {
		t.Fatalf("assumed = %v, want [2027]", r.Assumed)
	}
	if work, known := c.IsWorkday(date("2027-01-01")); known || !work {
		t.Errorf("2027-01-01: work=%v known=%v, want a Friday guessed as working", work, known)
	}
	// An administrator adds 2027 from a file: the warning goes away and the data is used.
	path := filepath.Join(t.TempDir(), "2027.txt")
	os.WriteFile(path, []byte("year 2027\n2027-01-01 off 元旦\n"), 0o644)
	c2, err := c.WithFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r2 := c2.Add(date("2026-12-20"), 20)
	if len(r2.Assumed) != 0 || !r2.Date.After(r.Date) {
		t.Errorf("with 2027: %v %v", r2.Date, r2.Assumed)
	}
	if _, err := c2.WithFile(path); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("adding 2027 twice: %v", err)
	}
	if got := c2.Years(); len(got) != 3 || got[2] != 2027 {
		t.Errorf("years %v", got)
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"2025-01-01 off 元旦":                             "outside the year",
		"year 2025\n2025-13-01 off x":                   "not a date",
		"year 2025\n2025-01-01 maybe x":                 "neither off nor work",
		"year 2025\n2025-01-02 work x":                  "already a working day",
		"year 2025\n2025-01-01 off a\n2025-01-01 off b": "line 3: 2025-01-01 appears twice",
		"year 2025\nyear 2025":                          "appears twice",
		"year 25":                                       "not a year",
		"year 2025\n2025-01-01 off":                     "want",
	}
	for in, want := range cases {
		if _, err := Parse(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want %q", in, err, want)
		}
	}
}

// Add and Between are inverse, forwards and backwards.
func TestAddBetweenInverse(t *testing.T) {
	c := Default()
	for d := date("2025-01-01"); d.Before(date("2026-12-01")); d = d.AddDate(0, 0, 3) {
		for _, n := range []int{1, 5, 20} {
			r := c.Add(d, n)
			if got := c.Between(d, r.Date).Days; got != n {
				t.Fatalf("Between(%s, Add(%s, %d)) = %d", d.Format(time.DateOnly), d.Format(time.DateOnly), n, got)
			}
			if got := c.Between(r.Date, d).Days; got != -n {
				t.Fatalf("backwards: %d", got)
			}
		}
	}
}

func FuzzAddBetween(f *testing.F) {
	f.Add(int64(0), 20)
	f.Fuzz(func(t *testing.T, offset int64, n int) {
		if n < 0 || n > 400 || offset < 0 || offset > 3000 {
			return
		}
		c := Default()
		d := date("2024-06-01").AddDate(0, 0, int(offset))
		r := c.Add(d, n)
		if got := c.Between(d, r.Date).Days; got != n {
			t.Fatalf("Between(Add(%s, %d)) = %d", d, n, got)
		}
		if work, _ := c.IsWorkday(r.Date); n > 0 && !work {
			t.Fatalf("Add landed on a day off: %s", r.Date)
		}
	})
}
