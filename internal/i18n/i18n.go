// Package i18n owns the message catalogs of the console, the portal and the
// API errors: Simplified Chinese (the default, using the regulation's own
// terms) and English. Every string a person reads comes from here; code and
// templates name messages by key. It does no I/O beyond its embedded files.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// Languages the platform speaks; the first is the default.
const (
	ZH = "zh-CN"
	EN = "en"
)

// Supported lists the languages in the order the language switch shows them.
var supported = []string{ZH, EN}

// Each language is a directory of JSON files, one per domain
// (catalogs/zh-CN/core.json, catalogs/zh-CN/registry.json …), merged at
// load; a key defined twice is an error, so domains cannot shadow each other.
//
//go:embed catalogs
var files embed.FS

// Catalog holds the messages of every supported language. It is immutable
// after Load and safe for concurrent use.
type Catalog struct {
	msgs map[string]map[string]string
}

// Load parses the embedded catalogs.
func Load() (*Catalog, error) {
	c := &Catalog{msgs: map[string]map[string]string{}}
	for _, lang := range supported {
		names, err := fs.Glob(files, "catalogs/"+lang+"/*.json")
		if err != nil || len(names) == 0 {
			return nil, fmt.Errorf("i18n: catalog %s: no files", lang)
		}
		m := map[string]string{}
		for _, name := range names {
			b, err := files.ReadFile(name)
			if err != nil {
				return nil, fmt.Errorf("i18n: catalog %s: %w", name, err)
			}
			part := map[string]string{}
			if err := json.Unmarshal(b, &part); err != nil {
				return nil, fmt.Errorf("i18n: catalog %s: %w", name, err)
			}
			for k, v := range part {
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("i18n: catalog %s: key %q is defined in another file of %s", name, k, lang)
				}
				m[k] = v
			}
		}
		c.msgs[lang] = m
	}
	return c, nil
}

// Languages returns the supported language tags, default first.
func (c *Catalog) Languages() []string { return append([]string(nil), supported...) }

// Keys returns the sorted message keys of one language.
func (c *Catalog) Keys(lang string) []string {
	keys := make([]string, 0, len(c.msgs[lang]))
	for k := range c.msgs[lang] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Has reports whether key exists in every language.
func (c *Catalog) Has(key string) bool {
	for _, lang := range supported {
		if _, ok := c.msgs[lang][key]; !ok {
			return false
		}
	}
	return true
}

// T returns the message for key in lang with {name} placeholders filled
// from args (an argument "@other.key" is itself translated). A key missing from lang falls back to the default language, and
// a key missing everywhere is returned as is, so a gap shows rather than
// hides (a test keeps the catalogs complete).
func (c *Catalog) T(lang, key string, args map[string]string) string {
	msg, ok := c.msgs[Normalize(lang)][key]
	if !ok {
		if msg, ok = c.msgs[ZH][key]; !ok {
			return key
		}
	}
	if len(args) == 0 || !strings.Contains(msg, "{") {
		return msg
	}
	pairs := make([]string, 0, 2*len(args))
	for k, v := range args {
		// "@key" names another message, such as a field's label, so that
		// an error says 名称 in Chinese and name in English.
		if ref, ok := strings.CutPrefix(v, "@"); ok {
			if m, ok := c.msgs[Normalize(lang)][ref]; ok {
				v = m
			}
		}
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}

// Normalize maps a language tag to a supported language, defaulting to
// Simplified Chinese: "en-US" → "en"; "zh", "zh-Hans-CN", "" → "zh-CN".
func Normalize(tag string) string {
	t := strings.ToLower(strings.TrimSpace(tag))
	if t == "en" || strings.HasPrefix(t, "en-") || strings.HasPrefix(t, "en_") {
		return EN
	}
	return ZH
}

// FromAcceptLanguage picks the first supported language named in an
// Accept-Language header, or "" when none is.
func FromAcceptLanguage(header string) string {
	best, bestQ := "", -1.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if _, err := fmt.Sscanf(v, "%g", &q); err != nil {
				continue
			}
		}
		t := strings.ToLower(strings.TrimSpace(tag))
		var lang string
		switch {
		case t == "zh" || strings.HasPrefix(t, "zh-"):
			lang = ZH
		case t == "en" || strings.HasPrefix(t, "en-"):
			lang = EN
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = lang, q
		}
	}
	return best
}
