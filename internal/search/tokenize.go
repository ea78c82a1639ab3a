package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// fold maps full-width ASCII forms (U+FF01–U+FF5E) to ASCII and the
// ideographic space to a space, then lowercases, so ＧＤＰ, GDP and gdp are
// one word.
func fold(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		r -= 0xFEE0
	case r == 0x3000:
		r = ' '
	}
	return unicode.ToLower(r)
}

// normalize folds a whole string; names are compared in this form for the
// exact-match and prefix boosts.
func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == utf8.RuneError {
			continue
		}
		r = fold(r)
		if unicode.IsSpace(r) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

func isWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// tokens splits text into index terms: runs of Chinese characters become
// their overlapping bigrams (a run of one character is itself a term),
// runs of other letters and digits become one lowercased word. With
// unigrams set, every Chinese character is also a term on its own: the
// index does that for names only, so a one-character query finds names.
// emit is called once per occurrence.
func tokens(text string, unigrams bool, emit func(term string)) {
	var han []rune
	var word strings.Builder
	flushHan := func() {
		switch {
		case len(han) == 1:
			emit(string(han))
		case len(han) > 1:
			for i := 0; i+1 < len(han); i++ {
				emit(string(han[i : i+2]))
			}
			if unigrams {
				for _, r := range han {
					emit(string(r))
				}
			}
		}
		han = han[:0]
	}
	flushWord := func() {
		if word.Len() > 0 {
			w := word.String()
			if len(w) > maxTermBytes {
				w = truncate(w, maxTermBytes)
			}
			emit(w)
			word.Reset()
		}
	}
	for _, r := range text {
		r = fold(r)
		switch {
		case r == utf8.RuneError:
			flushHan()
			flushWord()
		case isHan(r):
			flushWord()
			han = append(han, r)
		case isWord(r):
			flushHan()
			word.WriteRune(r)
		default:
			flushHan()
			flushWord()
		}
	}
	flushHan()
	flushWord()
}

// maxTermBytes bounds a term so that a pathological word cannot bloat the
// postings key.
const maxTermBytes = 64

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// queryTerms returns a query's distinct terms in order of first occurrence.
// A query that is a single Chinese character keeps it as its one term.
func queryTerms(text string) []string {
	seen := map[string]bool{}
	var out []string
	tokens(text, false, func(t string) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	})
	return out
}
