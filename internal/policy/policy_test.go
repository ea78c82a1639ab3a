package policy

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// R12.1, R15.2, R15.3: every adversarial query is refused with its code.
func TestAdversarialCorpus(t *testing.T) {
	cat := testCatalog()
	entries := readCorpus(t, "testdata/adversarial.txt", true)
	if len(entries) < 80 {
		t.Fatalf("only %d adversarial queries; the corpus must hold at least 80", len(entries))
	}
	for _, e := range entries {
		t.Run(fmt.Sprintf("line%d", e.line), func(t *testing.T) {
			d := Validate(e.sql, cat)
			if d.Allowed || d.Code != e.code {
				t.Errorf("%s\n got allowed=%v code=%s (%s: %s), want %s", e.sql, d.Allowed, d.Code, d.Rule, d.Message, e.code)
			}
			if d.Key != "policy."+string(d.Code) || strings.Contains(d.Message, "{") {
				t.Errorf("message not rendered: key %q message %q", d.Key, d.Message)
			}
		})
	}
}

// R12.1: legitimate analytic queries pass and their rewrite carries the
// threshold (or the row cap under the list rule).
func TestLegitimateCorpus(t *testing.T) {
	cat := testCatalog()
	entries := readCorpus(t, "testdata/legitimate.txt", false)
	if len(entries) < 40 {
		t.Fatalf("only %d legitimate queries; the corpus must hold at least 40", len(entries))
	}
	for _, e := range entries {
		t.Run(fmt.Sprintf("line%d", e.line), func(t *testing.T) {
			d := Validate(e.sql, cat)
			if !d.Allowed {
				t.Fatalf("%s\n refused: %s (%s: %s)", e.sql, d.Code, d.Rule, d.Message)
			}
			if d.Fingerprint == "" || len(d.Tables) == 0 {
				t.Errorf("decision lacks fingerprint or tables: %+v", d)
			}
			p, d2 := Rewrite(e.sql, cat, Options{})
			if !d2.Allowed {
				t.Fatalf("rewrite refused: %s %s", d2.Code, d2.Message)
			}
			if err := verifyPlan(p, cat); err != nil {
				t.Errorf("%s\n rewritten %s\n %v", e.sql, p.SQL, err)
			}
		})
	}
}

// The English messages here and the catalog internal/i18n ships agree, and
// every code has a message in both languages.
func TestMessagesMatchCatalogs(t *testing.T) {
	for _, lang := range []string{"en", "zh-CN"} {
		b, err := os.ReadFile("../i18n/catalogs/" + lang + "/policy.json")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, c := range Codes() {
			msg, ok := m["policy."+string(c)]
			if !ok {
				t.Errorf("%s: no message for policy.%s", lang, c)
			}
			if lang == "en" && msg != messages[c] {
				t.Errorf("policy.%s: catalog %q, code %q", c, msg, messages[c])
			}
		}
	}
}

// R15.2: text the parser, the engine and the log could read differently is
// refused before parsing, with the offset of the offending byte.
func TestControlCharacters(t *testing.T) {
	cat := testCatalog()
	for _, sql := range []string{
		"SELECT district, count(*) FROM social_insurance GROUP BY district\x00; SELECT 1",
		"SELECT district, count(*) FROM social_insurance WHERE district = '3601\x0002' GROUP BY district",
		"SELECT district, count(*) FROM social_insurance\x1b GROUP BY district",
		"SELECT district, count(*) FROM social_insurance WHERE district = '\xff' GROUP BY district",
		"SELECT district, count(*) FROM social_insurance\u2028GROUP BY district",
	} {
		d := Validate(sql, cat)
		if d.Allowed || d.Code != CodeControlChar || d.Args["offset"] == "" || strings.Contains(d.Message, "{") {
			t.Errorf("%q: %s %q", sql, d.Code, d.Message)
		}
	}
	if d := Validate("SELECT district,\tcount(*)\r\nFROM social_insurance\nGROUP BY district", cat); !d.Allowed {
		t.Errorf("tabs and line breaks refused: %s", d.Code)
	}
}

// R15.2: a division by a value that is zero for some rows gives NULL, not
// an error that would tell those rows exist; ln and sqrt are guarded alike.
func TestFailingExpressionsGuarded(t *testing.T) {
	cat := testCatalog()
	for sql, want := range map[string]string{
		"SELECT district, count(*) FROM social_insurance WHERE 100 / (birth_year - 1980) > 1 GROUP BY district":          "NULLIF(birth_year - 1980, 0)",
		"SELECT district, count(*) FROM social_insurance WHERE ln(birth_year - 1980) > 1 GROUP BY district":              "ln(CASE WHEN (birth_year - 1980) > 0 THEN birth_year - 1980 END)",
		"SELECT district, count(*) FROM social_insurance WHERE sqrt(birth_year - 1980) > 1 GROUP BY district":            "sqrt(CASE WHEN (birth_year - 1980) >= 0 THEN birth_year - 1980 END)",
		"SELECT district, count(*) FROM social_insurance WHERE mod(birth_year, birth_year - 1980) = 1 GROUP BY district": "mod(birth_year, NULLIF(birth_year - 1980, 0))",
	} {
		p, d := Rewrite(sql, cat, Options{})
		if !d.Allowed || !strings.Contains(p.SQL, want) {
			t.Errorf("%s: %s\n%s\nlacks %s", sql, d.Code, p.SQL, want)
		}
	}
}
