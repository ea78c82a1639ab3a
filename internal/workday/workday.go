// Package workday owns the working-day calendar that every deadline of the
// regulation counts in (filing within 20 working days, R9.1 and R11.1;
// answering objections, registration steps): China's public holidays and
// adjusted working days (调休) as the State Council publishes them each
// year, embedded for the years known at release, and extendable by an
// administrator from a file without a new release. A year without data
// falls back to Monday–Friday, and every answer that depends on such a
// year says so, so a person is warned wherever the deadline is shown. It
// is pure: dates in, dates out, no clock and no I/O beyond reading files
// it is given.
package workday

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind says what the notices made of a day.
type Kind int

const (
	Off  Kind = iota + 1 // a holiday (or a weekend day inside one)
	Work                 // a weekend day that is a working day (调休上班)
)

// Day is one dated entry of a notice.
type Day struct {
	Date string // YYYY-MM-DD
	Kind Kind
	Name string
}

// Calendar knows the holidays and adjusted working days of some years.
// It is immutable; With returns an extended copy.
type Calendar struct {
	days  map[string]Day
	years map[int]bool
}

//go:embed cn.txt
var embedded string

// Default is the calendar embedded in this release (2025 and 2026).
var Default = sync.OnceValue(func() *Calendar {
	c, err := Parse(strings.NewReader(embedded))
	if err != nil {
		panic("workday: embedded calendar: " + err.Error())
	}
	return c
})

// Parse reads a calendar file: "year YYYY" opens a year; then one line a
// day, "YYYY-MM-DD off|work NAME"; '#' starts a comment. Errors name the
// line and what is wrong.
func Parse(r io.Reader) (*Calendar, error) {
	c := &Calendar{days: map[string]Day{}, years: map[int]bool{}}
	sc := bufio.NewScanner(r)
	year, n := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if f[0] == "year" {
			if len(f) != 2 {
				return nil, fmt.Errorf("line %d: want \"year YYYY\"", n)
			}
			y, err := strconv.Atoi(f[1])
			if err != nil || y < 2000 || y > 2100 {
				return nil, fmt.Errorf("line %d: year %q is not a year between 2000 and 2100", n, f[1])
			}
			if c.years[y] {
				return nil, fmt.Errorf("line %d: year %d appears twice", n, y)
			}
			year = y
			c.years[y] = true
			continue
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("line %d: want \"YYYY-MM-DD off|work NAME\"", n)
		}
		d, err := time.Parse(time.DateOnly, f[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %q is not a date (YYYY-MM-DD)", n, f[0])
		}
		if d.Year() != year {
			return nil, fmt.Errorf("line %d: %s is outside the year opened by \"year %d\"", n, f[0], year)
		}
		var k Kind
		switch f[1] {
		case "off":
			k = Off
		case "work":
			k = Work
			if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
				return nil, fmt.Errorf("line %d: %s is a %s, already a working day; only a weekend day can be \"work\"", n, f[0], wd)
			}
		default:
			return nil, fmt.Errorf("line %d: %q is neither off nor work", n, f[1])
		}
		if _, dup := c.days[f[0]]; dup {
			return nil, fmt.Errorf("line %d: %s appears twice", n, f[0])
		}
		c.days[f[0]] = Day{Date: f[0], Kind: k, Name: strings.Join(f[2:], " ")}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// With returns a calendar with the years of other added; a year both know
// is refused, since a published year is never silently replaced.
func (c *Calendar) With(other *Calendar) (*Calendar, error) {
	out := &Calendar{days: map[string]Day{}, years: map[int]bool{}}
	for y := range c.years {
		out.years[y] = true
	}
	for y := range other.years {
		if out.years[y] {
			return nil, fmt.Errorf("workday: year %d is already in the calendar", y)
		}
		out.years[y] = true
	}
	for k, v := range c.days {
		out.days[k] = v
	}
	for k, v := range other.days {
		out.days[k] = v
	}
	return out, nil
}

// WithFile adds the years of a calendar file (an administrator's way to
// add a year the State Council has just published).
func (c *Calendar) WithFile(path string) (*Calendar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("workday: %w", err)
	}
	defer f.Close()
	other, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("workday: %s: %w", path, err)
	}
	return c.With(other)
}

// Years lists the years with official data.
func (c *Calendar) Years() []int {
	var ys []int
	for y := range c.years {
		ys = append(ys, y)
	}
	sort.Ints(ys)
	return ys
}

// Known reports whether the calendar has official data for a year.
func (c *Calendar) Known(year int) bool { return c.years[year] }

// Lookup returns what the notices say of a day, if anything.
func (c *Calendar) Lookup(d time.Time) (Day, bool) {
	day, ok := c.days[d.Format(time.DateOnly)]
	return day, ok
}

// IsWorkday reports whether d is a working day; known is false when d's
// year has no official data and the answer is only "Monday to Friday".
func (c *Calendar) IsWorkday(d time.Time) (work, known bool) {
	known = c.years[d.Year()]
	if day, ok := c.days[d.Format(time.DateOnly)]; ok {
		return day.Kind == Work, true
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday, known
}

// Result is a computed date or count with the years it had to guess.
type Result struct {
	Date time.Time
	Days int
	// Assumed lists the years without official data that the answer
	// crossed, where weekends alone were used: show a warning.
	Assumed []int
}

func (r *Result) assume(y int) {
	for _, x := range r.Assumed {
		if x == y {
			return
		}
	}
	r.Assumed = append(r.Assumed, y)
}

func day(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }

// Add returns the n-th working day after d (n ≥ 0; Add(d, 0) is d). A
// deadline "within 20 working days of d" is Add(d, 20): the day itself
// does not count.
func (c *Calendar) Add(d time.Time, n int) Result {
	r := Result{Date: day(d)}
	for n > 0 {
		r.Date = r.Date.AddDate(0, 0, 1)
		work, known := c.IsWorkday(r.Date)
		if !known {
			r.assume(r.Date.Year())
		}
		if work {
			n--
		}
	}
	return r
}

// Between counts the working days after a up to and including b, so that
// Between(a, Add(a, n).Date) is n; it is negative when b is before a.
func (c *Calendar) Between(a, b time.Time) Result {
	a, b = day(a), day(b)
	sign := 1
	if b.Before(a) {
		a, b, sign = b, a, -1
	}
	var r Result
	for d := a.AddDate(0, 0, 1); !d.After(b); d = d.AddDate(0, 0, 1) {
		work, known := c.IsWorkday(d)
		if !known {
			r.assume(d.Year())
		}
		if work {
			r.Days++
		}
	}
	r.Days *= sign
	return r
}
