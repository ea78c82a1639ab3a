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
