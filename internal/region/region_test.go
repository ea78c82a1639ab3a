package region

import (
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The embedded table parses, and every code in it is six digits, unique
// and fits its level; names are clean Simplified Chinese and ASCII English.
func TestEmbeddedTable(t *testing.T) {
	tb, err := Parse(strings.NewReader(embedded))
	if err != nil {
		t.Fatalf("embedded table: %v", err)
	}
	if got, want := len(tb.byCode), 145; got != want {
		t.Errorf("%d entries, want %d (34 provinces, 11 Jiangxi cities, 100 counties)", got, want)
	}
	if Default() != Default() {
		t.Error("Default is not parsed once")
	}
	// Uniqueness is checked on the raw lines: the map could hide duplicates.
	seen := map[string]int{}
	for i, line := range strings.Split(embedded, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		code := strings.SplitN(line, "\t", 2)[0]
		if !validCode(code) {
			t.Errorf("line %d: code %q is not six digits", i+1, code)
		}
		if prev, dup := seen[code]; dup {
			t.Errorf("line %d: code %s already on line %d", i+1, code, prev)
		}
		seen[code] = i + 1
	}
	// Traditional forms that would betray a non-simplified name.
	const traditional = "區縣鄉東陽興龍萬豐樂饒贛鷹鎮濱灣門雲臺廣濟寧陝蘇遼內維爾漢長貴慶華島遠寶與為"
	for code, r := range tb.byCode {
		for _, c := range r.NameZH {
			if !unicode.Is(unicode.Han, c) || strings.ContainsRune(traditional, c) {
				t.Errorf("%s: NameZH %q has %q, not Simplified Chinese", code, r.NameZH, c)
			}
		}
		for _, c := range r.NameEN {
			if c > unicode.MaxASCII || !(unicode.IsLetter(c) || c == ' ' || c == '\'') {
				t.Errorf("%s: NameEN %q has %q", code, r.NameEN, c)
			}
		}
	}
}

// R2.1: the measures cover Jiangxi's whole administrative area: the
// province, its 11 cities and every county-level division.
func TestJiangxiTable(t *testing.T) {
	tb := Default()
	jx, ok := tb.Lookup("360000")
	if !ok || jx.NameZH != "江西省" || jx.NameEN != "Jiangxi" || jx.Level != Province {
		t.Fatalf("360000 = %+v", jx)
	}
	cities := tb.Children("360000")
	var cityCodes []string
	for _, c := range cities {
		cityCodes = append(cityCodes, c.Code)
	}
	wantCities := []string{"360100", "360200", "360300", "360400", "360500", "360600", "360700", "360800", "360900", "361000", "361100"}
	if !slices.Equal(cityCodes, wantCities) {
		t.Fatalf("Jiangxi cities = %v, want the 11 %v", cityCodes, wantCities)
	}
	wantCounties := map[string]int{ // county-level divisions per city
		"360100": 9, "360200": 4, "360300": 5, "360400": 13, "360500": 2, "360600": 3,
		"360700": 18, "360800": 13, "360900": 10, "361000": 11, "361100": 12,
	}
	total := 0
	for _, c := range cities {
		kids := tb.Children(c.Code)
		if len(kids) != wantCounties[c.Code] {
			t.Errorf("%s %s has %d county-level divisions, want %d", c.Code, c.NameZH, len(kids), wantCounties[c.Code])
		}
		if !slices.IsSortedFunc(kids, func(a, b Region) int { return strings.Compare(a.Code, b.Code) }) {
			t.Errorf("Children(%s) not sorted by code", c.Code)
		}
		total += len(kids)
	}
	if total != 100 {
		t.Errorf("Jiangxi has %d county-level divisions, want 100", total)
	}

	provinces := tb.Provinces()
	if len(provinces) != 34 {
		t.Errorf("%d province-level divisions, want 34", len(provinces))
	}
	if len(provinces) > 0 && (provinces[0].Code != "110000" || provinces[len(provinces)-1].Code != "820000") {
		t.Errorf("Provinces() not sorted: first %s, last %s", provinces[0].Code, provinces[len(provinces)-1].Code)
	}

	for _, c := range []struct{ code, zh, en string }{
		{"110000", "北京市", "Beijing"},
		{"650000", "新疆维吾尔自治区", "Xinjiang"},
		{"710000", "台湾省", "Taiwan"},
		{"810000", "香港特别行政区", "Hong Kong"},
		{"820000", "澳门特别行政区", "Macao"},
		{"360100", "南昌市", "Nanchang City"},
		{"360102", "东湖区", "Donghu District"},
		{"360113", "红谷滩区", "Honggutan District"},
		{"360121", "南昌县", "Nanchang County"},
		{"360124", "进贤县", "Jinxian County"},
		{"360404", "柴桑区", "Chaisang District"},
		{"360482", "共青城市", "Gongqingcheng City"},
		{"360483", "庐山市", "Lushan City"},
		{"360603", "余江区", "Yujiang District"},
		{"360704", "赣县区", "Ganxian District"},
		{"360781", "瑞金市", "Ruijin City"},
		{"360783", "龙南市", "Longnan City"},
		{"360881", "井冈山市", "Jinggangshan City"},
		{"361003", "东乡区", "Dongxiang District"},
		{"361104", "广信区", "Guangxin District"},
		{"361181", "德兴市", "Dexing City"},
	} {
		r, ok := tb.Lookup(c.code)
		if !ok || r.NameZH != c.zh || r.NameEN != c.en {
			t.Errorf("Lookup(%s) = %+v, %v; want %s / %s", c.code, r, ok, c.zh, c.en)
		}
	}
	// Divisions abolished or renumbered before the current code table.
	for _, gone := range []string{"360105", "360727", "361029", "360421", "360427", "360622", "360721", "361121", "361122"} {
		if r, ok := tb.Lookup(gone); ok {
			t.Errorf("Lookup(%s) = %+v, want absent (no longer in GB/T 2260)", gone, r)
		}
	}

	r, _ := tb.Lookup("360702")
	for lang, want := range map[string]string{"en": "Zhanggong District", "en-US": "Zhanggong District", "zh": "章贡区", "zh-CN": "章贡区", "": "章贡区"} {
		if got := r.Name(lang); got != want {
			t.Errorf("Name(%q) = %q, want %q", lang, got, want)
		}
	}
}

// R4.1: a county runs within its city, a city within its province.
func TestParentage(t *testing.T) {
	tb := Default()
	wantParentLevel := map[Level]Level{City: Province, County: City}
	for code, r := range tb.byCode {
		if r.Level == Province {
			if r.ParentCode() != "" {
				t.Errorf("province %s has ParentCode %q", code, r.ParentCode())
			}
			if p, ok := tb.Parent(code); ok {
				t.Errorf("Parent(%s) = %+v, want none", code, p)
			}
			continue
		}
		p, ok := tb.Parent(code)
		if !ok {
			t.Errorf("%s %s: parent %s missing", r.Level, code, r.ParentCode())
			continue
		}
		if p.Level != wantParentLevel[r.Level] || p.Code != r.ParentCode() {
			t.Errorf("%s (%s) has parent %s of level %s", code, r.Level, p.Code, p.Level)
		}
		if !slices.Contains(tb.Children(p.Code), r) {
			t.Errorf("Children(%s) lacks %s", p.Code, code)
		}
	}
	for _, c := range []struct{ code, parent string }{
		{"360102", "360100"}, {"360100", "360000"}, {"360000", ""}, {"361181", "361100"}, {"361100", "360000"},
	} {
		r, _ := tb.Lookup(c.code)
		if got := r.ParentCode(); got != c.parent {
			t.Errorf("ParentCode(%s) = %q, want %q", c.code, got, c.parent)
		}
	}
	if kids := tb.Children("360102"); len(kids) != 0 {
		t.Errorf("Children(county) = %v", kids)
	}
	if kids := tb.Children("110000"); len(kids) != 0 {
		t.Errorf("Children(110000) = %v, municipalities are listed at province level only", kids)
	}
	if kids := tb.Children("999999"); kids != nil {
		t.Errorf("Children(unknown) = %v", kids)
	}
	// Returned slices are copies: mutating one leaves the table intact.
	kids := tb.Children("360000")
	kids[0].NameZH = "changed"
	if tb.Children("360000")[0].NameZH != "南昌市" {
		t.Error("Children exposes the table's storage")
	}
	ps := tb.Provinces()
	ps[0].Code = "changed"
	if tb.Provinces()[0].Code != "110000" {
		t.Error("Provinces exposes the table's storage")
	}
}

func TestContains(t *testing.T) {
	tb := Default()
	cases := []struct {
		anc, code string
		want      bool
	}{
		{"360000", "360000", true},
		{"360000", "360100", true},
		{"360000", "360102", true},
		{"360100", "360102", true},
		{"360102", "360102", true},
		{"360700", "360781", true},
		{"110000", "110000", true},
		{"360100", "360202", false}, // another city's county
		{"360102", "360100", false}, // county does not contain its city
		{"360100", "360000", false},
		{"110000", "360102", false},
		{"999999", "360102", false}, // unknown ancestor
		{"360000", "369999", false}, // unknown code
		{"999999", "999999", false},
		{"", "", false},
		{"360000", "", false},
	}
	for _, c := range cases {
		if got := tb.Contains(c.anc, c.code); got != c.want {
			t.Errorf("Contains(%q, %q) = %v, want %v", c.anc, c.code, got, c.want)
		}
	}
}

func TestPath(t *testing.T) {
	tb := Default()
	cases := []struct {
		code string
		want []string
	}{
		{"360781", []string{"360000", "360700", "360781"}},
		{"360102", []string{"360000", "360100", "360102"}},
		{"361100", []string{"360000", "361100"}},
		{"360000", []string{"360000"}},
		{"110000", []string{"110000"}},
		{"999999", nil},
		{"", nil},
	}
	for _, c := range cases {
		var got []string
		for _, r := range tb.Path(c.code) {
			got = append(got, r.Code)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Path(%q) = %v, want %v", c.code, got, c.want)
		}
	}
	if p := tb.Path("360781"); p[2].NameZH != "瑞金市" || p[1].NameZH != "赣州市" || p[0].NameZH != "江西省" {
		t.Errorf("Path(360781) = %+v", p)
	}
}

func TestParse(t *testing.T) {
	const jx = "360000\t江西省\tJiangxi\tprovince\n"
	// Comments, blank lines, CRLF and children before their parents are fine.
	tb, err := Parse(strings.NewReader("# header\n\n360102\t东湖区\tDonghu District\tcounty\r\n360100\t南昌市\tNanchang City\tcity\r\n" + jx))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if p := tb.Path("360102"); len(p) != 3 {
		t.Errorf("Path(360102) = %+v", p)
	}

	cases := []struct{ name, in, want string }{
		{"too few columns", "360000\t江西省\tJiangxi", "line 1: want 4 tab-separated columns"},
		{"too many columns", "# c\n360000\t江西省\tJiangxi\tprovince\textra", "line 2: want 4 tab-separated columns"},
		{"short code", "36000\t江西省\tJiangxi\tprovince", `line 1: code "36000" is not six digits`},
		{"letters in code", jx + "36010A\t南昌市\tNanchang City\tcity", `line 2: code "36010A" is not six digits`},
		{"unknown level", "360000\t江西省\tJiangxi\tstate", `line 1: unknown level "state"`},
		{"empty level", "360000\t江西省\tJiangxi\t", `line 1: unknown level ""`},
		{"province code", "360100\t南昌市\tNanchang\tprovince", "line 1: province code 360100 must end in 0000"},
		{"city code", jx + "360102\t东湖区\tDonghu\tcity", "line 2: city code 360102 must end in 00"},
		{"county code", jx + "360100\t南昌市\tNanchang\tcounty", "line 2: county code 360100 must not end in 00"},
		{"empty name", "360000\t\tJiangxi\tprovince", "line 1: 360000 has an empty name"},
		{"duplicate code", jx + "\n" + jx, "line 3: duplicate code 360000 (first on line 1)"},
		{"county without city", jx + "360199\t某县\tMou County\tcounty", "line 2: county 360199 has no parent 360100"},
		{"city without province", "360100\t南昌市\tNanchang City\tcity", "line 1: city 360100 has no parent 360000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse(%q) error = %v, want it to contain %q", c.in, err, c.want)
			}
		})
	}
}
