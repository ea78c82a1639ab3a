package i18n

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

func TestCatalogsHaveTheSameKeys(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	zh, en := c.Keys(ZH), c.Keys(EN)
	inZH := map[string]bool{}
	for _, k := range zh {
		inZH[k] = true
	}
	for _, k := range en {
		if !inZH[k] {
			t.Errorf("%q is in en but not in zh-CN", k)
		}
		delete(inZH, k)
	}
	for k := range inZH {
		t.Errorf("%q is in zh-CN but not in en", k)
	}
}

// Every placeholder a message uses in one language it uses in the other,
// so an argument is never dropped by a translation.
func TestPlaceholdersMatch(t *testing.T) {
	c, _ := Load()
	ph := regexp.MustCompile(`\{[a-z_]+\}`)
	for _, k := range c.Keys(ZH) {
		a := ph.FindAllString(c.msgs[ZH][k], -1)
		b := ph.FindAllString(c.msgs[EN][k], -1)
		if strings.Join(sorted(a), ",") != strings.Join(sorted(b), ",") {
			t.Errorf("%s: zh-CN has %v, en has %v", k, a, b)
		}
	}
}

func sorted(xs []string) []string {
	out := append([]string(nil), xs...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// The Chinese catalog is clean Simplified Chinese: no pinyin glosses
// (a character followed by its pinyin in brackets, as the seed text has)
// and no traditional-only characters from the seed text.
func TestChineseIsClean(t *testing.T) {
	c, _ := Load()
	gloss := regexp.MustCompile(`\p{Han}\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)`)
	traditional := "數據資營權證廳臺灣區縣級實機構運營協議負責"
	for _, k := range c.Keys(ZH) {
		m := c.msgs[ZH][k]
		if gloss.MatchString(m) {
			t.Errorf("%s carries a pinyin gloss: %s", k, m)
		}
		for _, r := range m {
			if strings.ContainsRune(traditional, r) {
				t.Errorf("%s uses the traditional character %q", k, r)
			}
		}
	}
}

// keyUse finds message keys in Go code (apperr keys, navigation, titles)
// and templates (.T "key").
var keyUse = regexp.MustCompile(`"((?:identity|web|error|nav|title|brand|lang|login|portal|org|orgs|user|users|tokens|password|dashboard|common|footer|role|audit|registry|supply|search|catalog|engine|quality|governance|gov|gu|grant|policy|sandbox|ws)\.[a-z_.]+[a-z_])"`)

// isMessageUse tells message keys from the dotted action names that share
// their prefixes ("user.create" is both an action and a message family):
// on a Go line that builds an audit entry or a refusal, only the key given
// to apperr.New is a message.
func isMessageUse(path, line string) bool {
	if strings.HasSuffix(path, ".go") && (strings.Contains(line, "Action") || strings.Contains(line, "entry(") ||
		strings.Contains(line, "Refuse") || strings.Contains(line, "refuseBody") || strings.Contains(line, "deny(")) {
		return strings.Contains(line, "apperr.New")
	}
	return true
}

func TestEveryUsedKeyExists(t *testing.T) {
	c, _ := Load()
	root := filepath.Join("..")
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		// The demo's logins (user.huiqi …) look like keys but are not.
		if strings.Contains(filepath.ToSlash(path), "/demo/") {
			return nil
		}
		if !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".html")) || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			for _, m := range keyUse.FindAllStringSubmatch(line, -1) {
				key := m[1]
				if !isMessageUse(path, line) {
					continue
				}
				n++
				if !c.Has(key) {
					t.Errorf("%s uses message %q, missing from a catalog", path, key)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("found only %d message uses: the scan is broken", n)
	}
	// Enumerations rendered through computed keys.
	for _, prefix := range []string{"org.type.", "role.", "audit.outcome.", "dashboard.duty."} {
		found := false
		for _, k := range c.Keys(ZH) {
			if strings.HasPrefix(k, prefix) {
				found = true
			}
		}
		if !found {
			t.Errorf("no messages under %s", prefix)
		}
	}
}

func TestT(t *testing.T) {
	c, _ := Load()
	got := c.T(EN, "identity.region_unknown", map[string]string{"code": "369999"})
	if !strings.Contains(got, "369999") || strings.Contains(got, "{code}") {
		t.Errorf("T = %q", got)
	}
	if got := c.T("fr", "nav.orgs", nil); got != "机构" {
		t.Errorf("unsupported language should fall back to zh-CN, got %q", got)
	}
	if got := c.T(ZH, "no.such.key", nil); got != "no.such.key" {
		t.Errorf("missing key = %q", got)
	}
	zh := c.T(ZH, "nav.orgs", nil)
	if !unicode.Is(unicode.Han, []rune(zh)[0]) {
		t.Errorf("default language is not Chinese: %q", zh)
	}
}

func TestLanguageNegotiation(t *testing.T) {
	cases := map[string]string{
		"":                        "",
		"en-US,en;q=0.9":          EN,
		"zh-CN,zh;q=0.9,en;q=0.8": ZH,
		"fr-FR,en;q=0.5,zh;q=0.7": ZH,
		"de":                      "",
		"en;q=0.2, zh-Hant;q=0.1": EN,
	}
	for h, want := range cases {
		if got := FromAcceptLanguage(h); got != want {
			t.Errorf("FromAcceptLanguage(%q) = %q, want %q", h, got, want)
		}
	}
	for tag, want := range map[string]string{"en": EN, "EN-gb": EN, "zh": ZH, "": ZH, "xx": ZH} {
		if got := Normalize(tag); got != want {
			t.Errorf("Normalize(%q) = %q", tag, got)
		}
	}
}
