package region

import (
	"strings"
	"testing"
)

// R2.1: the measures cover Jiangxi's whole administrative area: the
// province, its 11 cities and every county-level division.
func TestJiangxiTable(t *testing.T) {
	tb := Default()
	jx, ok := tb.Lookup("360000")
	if !ok || jx.NameZH != "江西省" || jx.Level != Province {
		t.Fatalf("360000 = %+v", jx)
	}
	cities := tb.Children("360000")
	if len(cities) != 11 {
		t.Fatalf("Jiangxi has %d cities, want 11", len(cities))
	}
	counties := 0
	for _, c := range cities {
		kids := tb.Children(c.Code)
		if len(kids) == 0 {
			t.Errorf("%s %s has no counties", c.Code, c.NameZH)
		}
		counties += len(kids)
	}
	if counties != 100 {
		t.Errorf("Jiangxi has %d county-level divisions, want 100", counties)
	}
	if n := len(tb.Provinces()); n != 34 {
		t.Errorf("%d province-level divisions, want 34", n)
	}
	for code, name := range map[string]string{
		"360100": "南昌市", "360113": "红谷滩区", "360124": "进贤县", "360281": "乐平市", "360404": "柴桑区",
		"360483": "庐山市", "360603": "余江区", "360704": "赣县区", "360783": "龙南市", "360881": "井冈山市",
		"361003": "东乡区", "361104": "广信区", "361181": "德兴市", "110000": "北京市", "820000": "澳门特别行政区",
	} {
		if r, ok := tb.Lookup(code); !ok || r.NameZH != name {
			t.Errorf("%s = %+v, want %s", code, r, name)
		}
	}
	if r, _ := tb.Lookup("360702"); r.Name("en") != "Zhanggong District" || r.Name("zh-CN") != "章贡区" {
		t.Errorf("names of 360702: %q %q", r.Name("en"), r.Name("zh-CN"))
	}
}

// R4.1: a county runs within its city, a city within the province.
func TestParentage(t *testing.T) {
	tb := Default()
	for code, r := range tb.byCode {
		if r.Level == Province {
			continue
		}
		p, ok := tb.Parent(code)
		if !ok {
			t.Fatalf("%s has no parent", code)
		}
		want := map[Level]Level{City: Province, County: City}[r.Level]
		if p.Level != want {
			t.Errorf("%s (%s) has parent %s of level %s", code, r.Level, p.Code, p.Level)
		}
	}
	cases := []struct {
		anc, code string
		want      bool
	}{
		{"360000", "360000", true}, {"360000", "360100", true}, {"360000", "360102", true},
		{"360100", "360102", true}, {"360100", "360202", false}, {"360102", "360100", false},
		{"110000", "360102", false}, {"999999", "360102", false}, {"360000", "369999", false},
	}
	for _, c := range cases {
		if got := tb.Contains(c.anc, c.code); got != c.want {
			t.Errorf("Contains(%s, %s) = %v", c.anc, c.code, got)
		}
	}
	path := tb.Path("360781")
	if len(path) != 3 || path[0].Code != "360000" || path[1].Code != "360700" || path[2].NameZH != "瑞金市" {
		t.Errorf("Path(360781) = %+v", path)
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"360000\t江西省\tJiangxi":                                           "line 1: want 4",
		"36000\t江西省\tJiangxi\tprovince":                                  "not six digits",
		"360000\t江西省\tJiangxi\tstate":                                    "level \"state\"",
		"360000\t江西省\tJiangxi\tprovince\n360000\t江西省\tJiangxi\tprovince": "line 2: duplicate code 360000",
		"360000\t江西省\tJiangxi\tprovince\n360199\t某县\tMou\tcounty":        "line 2: county 360199 has no parent 360100",
		"360100\t南昌市\tNanchang\tprovince":                                "must end in 0000",
		"360000\t\tJiangxi\tprovince":                                    "empty name",
	}
	for in, want := range cases {
		_, err := Parse(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want %q", in, err, want)
		}
	}
}
