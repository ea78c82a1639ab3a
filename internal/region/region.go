// Package region owns the table of administrative divisions (GB/T 2260
// codes) that every organisation on the platform belongs to: all 34
// province-level divisions, and Jiangxi's 11 prefecture-level cities with
// every county-level division (districts, counties and county-level
// cities), the area the measures apply to (R2.1). Province, cities and
// counties each run their own authorizations (R4.1), so the table answers
// "is this region within that one" and "what encloses this region".
//
// The table is the embedded regions.tsv, parsed once by Default; Parse
// reads the same format from any reader. The package never does I/O beyond
// reading its embedded file, and a Table is immutable once built, so it is
// safe for concurrent use. Direct-administered municipalities (110000 etc.)
// are listed at province level only.
package region

import (
	"bufio"
	"cmp"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// Level is the tier of a division: "province", "city" or "county".
type Level string

// The three tiers. County covers every county-level division: 市辖区,
// 县 and 县级市.
const (
	Province Level = "province"
	City     Level = "city"
	County   Level = "county"
)

// Region is one administrative division.
type Region struct {
	Code   string // six-digit GB/T 2260 code
	NameZH string // Simplified Chinese name, e.g. 东湖区
	NameEN string // English (pinyin) name, e.g. Donghu District
	Level  Level
}

// Name returns the name in lang: English for "en" (or an "en-" tag such
// as "en-US"), Chinese otherwise.
func (r Region) Name(lang string) string {
	if lang == "en" || strings.HasPrefix(lang, "en-") {
		return r.NameEN
	}
	return r.NameZH
}

// ParentCode is the code of the enclosing division by the GB/T 2260 rule:
// a county's city shares its first four digits (360102 -> 360100), a
// city's province its first two (360100 -> 360000). Provinces, and values
// that are not well-formed divisions, have none ("").
func (r Region) ParentCode() string {
	if !validCode(r.Code) {
		return ""
	}
	switch r.Level {
	case County:
		return r.Code[:4] + "00"
	case City:
		return r.Code[:2] + "0000"
	}
	return ""
}

// Table is a parsed division table. It is immutable after construction
// and safe for concurrent reads; the slices it returns are copies.
type Table struct {
	byCode    map[string]Region
	children  map[string][]Region // parent code -> children, by code
	provinces []Region            // by code
}

//go:embed regions.tsv
var embedded string

var defaultTable = sync.OnceValue(func() *Table {
	t, err := Parse(strings.NewReader(embedded))
	if err != nil {
		// A malformed embedded file is a build defect; the package's
		// tests parse it, so this cannot reach a running server.
		panic("region: embedded regions.tsv: " + err.Error())
	}
	return t
})

// Default returns the embedded table, parsed on first use and shared
// thereafter. It panics only if the embedded file is malformed.
func Default() *Table { return defaultTable() }

// Parse reads a table: one division per line as tab-separated code,
// Chinese name, English name and level. Blank lines and lines starting
// with '#' are ignored. Codes must be six digits and unique, the code must
// fit its level (province NN0000, city NNNN00, county not ending in 00), and
// every city's province and county's city must be in the table (in any
// order). Errors name the line number and what is wrong.
func Parse(r io.Reader) (*Table, error) {
	t := &Table{byCode: map[string]Region{}, children: map[string][]Region{}}
	lineOf := map[string]int{}
	var order []string
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("region: line %d: want 4 tab-separated columns (code, name_zh, name_en, level), got %d", n, len(f))
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		reg := Region{Code: f[0], NameZH: f[1], NameEN: f[2], Level: Level(f[3])}
		if !validCode(reg.Code) {
			return nil, fmt.Errorf("region: line %d: code %q is not six digits", n, reg.Code)
		}
		if reg.NameZH == "" || reg.NameEN == "" {
			return nil, fmt.Errorf("region: line %d: %s has an empty name", n, reg.Code)
		}
		switch reg.Level {
		case Province:
			if reg.Code[2:] != "0000" {
				return nil, fmt.Errorf("region: line %d: province code %s must end in 0000", n, reg.Code)
			}
		case City:
			if reg.Code[4:] != "00" || reg.Code[2:] == "0000" {
				return nil, fmt.Errorf("region: line %d: city code %s must end in 00 but not 0000", n, reg.Code)
			}
		case County:
			if reg.Code[4:] == "00" {
				return nil, fmt.Errorf("region: line %d: county code %s must not end in 00", n, reg.Code)
			}
		default:
			return nil, fmt.Errorf("region: line %d: unknown level %q (want province, city or county)", n, f[3])
		}
		if prev, dup := lineOf[reg.Code]; dup {
			return nil, fmt.Errorf("region: line %d: duplicate code %s (first on line %d)", n, reg.Code, prev)
		}
		lineOf[reg.Code] = n
		order = append(order, reg.Code)
		t.byCode[reg.Code] = reg
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("region: after line %d: %w", n, err)
	}
	// Parentage is checked once every line is in, so the file may list
	// children before parents; errors still name the child's line.
	for _, code := range order {
		reg := t.byCode[code]
		p := reg.ParentCode()
		if p == "" {
			t.provinces = append(t.provinces, reg)
			continue
		}
		parent, ok := t.byCode[p]
		if !ok {
			return nil, fmt.Errorf("region: line %d: %s %s has no parent %s in the table", lineOf[code], reg.Level, code, p)
		}
		if want := map[Level]Level{City: Province, County: City}[reg.Level]; parent.Level != want {
			return nil, fmt.Errorf("region: line %d: %s %s has parent %s of level %s, want %s", lineOf[code], reg.Level, code, p, parent.Level, want)
		}
		t.children[p] = append(t.children[p], reg)
	}
	byCode := func(a, b Region) int { return cmp.Compare(a.Code, b.Code) }
	slices.SortFunc(t.provinces, byCode)
	for _, kids := range t.children {
		slices.SortFunc(kids, byCode)
	}
	return t, nil
}

func validCode(c string) bool {
	if len(c) != 6 {
		return false
	}
	for i := 0; i < len(c); i++ {
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

// Parent returns the division directly enclosing code: a county's city, a
// city's province. It reports false for provinces and unknown codes.
func (t *Table) Parent(code string) (Region, bool) {
	r, ok := t.byCode[code]
	if !ok {
		return Region{}, false
	}
	p := r.ParentCode()
	if p == "" {
		return Region{}, false
	}
	return t.Lookup(p)
}

// Children lists the divisions directly within code, sorted by code. It is
// empty for counties, for provinces listed without cities and for unknown
// codes.
func (t *Table) Children(code string) []Region {
	return slices.Clone(t.children[code])
}

// Provinces lists the province-level divisions, sorted by code.
func (t *Table) Provinces() []Region {
	return slices.Clone(t.provinces)
}

// Contains reports whether code is ancestor itself or lies within it (a
// county within its city and its province). Both must be in the table.
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

// Path lists the divisions from the province down to code inclusive:
// [province], [province, city] or [province, city, county]. It is nil
// for an unknown code.
func (t *Table) Path(code string) []Region {
	var out []Region
	for c := code; c != ""; {
		r, ok := t.byCode[c]
		if !ok {
			break
		}
		out = append(out, r)
		c = r.ParentCode()
	}
	slices.Reverse(out)
	return out
}
