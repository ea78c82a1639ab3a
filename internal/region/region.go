// Package region owns the table of administrative divisions (GB/T 2260
// codes) that every organisation on the platform belongs to: all
// province-level divisions, and Jiangxi's cities and counties, where the
// measures apply (R2.1). Province, cities and counties each run their own
// authorizations (R4.1), so the table answers "is this region within that
// one". It does no I/O beyond its embedded file and is immutable.
package region

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// Level is the tier of a division.
type Level string

const (
	Province Level = "province"
	City     Level = "city"
	County   Level = "county"
)

// Region is one administrative division.
type Region struct {
	Code   string
	NameZH string
	NameEN string
	Level  Level
}

// Name returns the name in a language ("en" for English, else Chinese).
func (r Region) Name(lang string) string {
	if lang == "en" {
		return r.NameEN
	}
	return r.NameZH
}

// ParentCode is the code of the enclosing division by the GB/T 2260 rule:
// a county's city shares its first four digits, a city's province its
// first two. Provinces have none.
func (r Region) ParentCode() string {
	switch r.Level {
	case County:
		return r.Code[:4] + "00"
	case City:
		return r.Code[:2] + "0000"
	}
	return ""
}

// Table is a parsed division table, safe for concurrent reads.
type Table struct {
	byCode   map[string]Region
	children map[string][]Region
}

//go:embed regions.tsv
var embedded string

// Default returns the embedded table, parsed once. A malformed embedded
// file is a build defect that the package's tests catch, so it panics.
var Default = sync.OnceValue(func() *Table {
	t, err := Parse(strings.NewReader(embedded))
	if err != nil {
		panic("region: embedded table: " + err.Error())
	}
	return t
})

// Parse reads a table: one division per line, tab-separated code, Chinese
// name, English name and level; '#' starts a comment line. Parents must
// come before their children.
func Parse(r io.Reader) (*Table, error) {
	t := &Table{byCode: map[string]Region{}, children: map[string][]Region{}}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("line %d: want 4 tab-separated columns (code, name_zh, name_en, level), got %d", n, len(f))
		}
		reg := Region{Code: f[0], NameZH: f[1], NameEN: f[2], Level: Level(f[3])}
		if !validCode(reg.Code) {
			return nil, fmt.Errorf("line %d: code %q is not six digits", n, reg.Code)
		}
		if reg.NameZH == "" || reg.NameEN == "" {
			return nil, fmt.Errorf("line %d: %s has an empty name", n, reg.Code)
		}
		switch reg.Level {
		case Province:
			if reg.Code[2:] != "0000" {
				return nil, fmt.Errorf("line %d: province code %s must end in 0000", n, reg.Code)
			}
		case City:
			if reg.Code[4:] != "00" || reg.Code[2:] == "0000" {
				return nil, fmt.Errorf("line %d: city code %s must end in 00 (and not 0000)", n, reg.Code)
			}
		case County:
			if reg.Code[4:] == "00" {
				return nil, fmt.Errorf("line %d: county code %s must not end in 00", n, reg.Code)
			}
		default:
			return nil, fmt.Errorf("line %d: level %q is not province, city or county", n, f[3])
		}
		if _, dup := t.byCode[reg.Code]; dup {
			return nil, fmt.Errorf("line %d: duplicate code %s", n, reg.Code)
		}
		if p := reg.ParentCode(); p != "" {
			if _, ok := t.byCode[p]; !ok {
				return nil, fmt.Errorf("line %d: %s %s has no parent %s listed before it", n, reg.Level, reg.Code, p)
			}
			t.children[p] = append(t.children[p], reg)
		}
		t.byCode[reg.Code] = reg
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, kids := range t.children {
		sort.Slice(kids, func(i, j int) bool { return kids[i].Code < kids[j].Code })
	}
	return t, nil
}

func validCode(c string) bool {
	if len(c) != 6 {
		return false
	}
	for i := 0; i < 6; i++ {
		if c[i] < '0' || c[i] > '9' {
			return false
		}
	}
	return true
}

// Lookup finds a division by code.
func (t *Table) Lookup(code string) (Region, bool) {
	r, ok := t.byCode[code]
	return r, ok
}

// Parent returns the enclosing division.
func (t *Table) Parent(code string) (Region, bool) {
	r, ok := t.byCode[code]
	if !ok || r.ParentCode() == "" {
		return Region{}, false
	}
	return t.Lookup(r.ParentCode())
}

// Children lists the divisions directly within code, by code.
func (t *Table) Children(code string) []Region {
	return append([]Region(nil), t.children[code]...)
}

// Provinces lists the province-level divisions, by code.
func (t *Table) Provinces() []Region {
	var out []Region
	for _, r := range t.byCode {
		if r.Level == Province {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Contains reports whether code is ancestor itself or lies within it.
func (t *Table) Contains(ancestor, code string) bool {
	if _, ok := t.byCode[ancestor]; !ok {
		return false
	}
	for c := code; c != ""; {
		if c == ancestor {
			return true
		}
		r, ok := t.byCode[c]
		if !ok {
			return false
		}
		c = r.ParentCode()
	}
	return false
}

// Path lists the divisions from the province down to code.
func (t *Table) Path(code string) []Region {
	var out []Region
	for c := code; c != ""; {
		r, ok := t.byCode[c]
		if !ok {
			break
		}
		out = append([]Region{r}, out...)
		c = r.ParentCode()
	}
	return out
}
