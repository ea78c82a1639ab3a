package quality

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The check-character rules of GB 11643 (resident identity number) and GB
// 32100 with GB 11714 (unified social credit code, with the organisation
// code inside it), written as SQL both DuckDB and PostgreSQL evaluate, so a
// whole column is checked inside the one aggregate scan instead of being
// shipped out of the domain. The Go validators in internal/pii and
// internal/identity are the reference; the tests compare the two on many
// generated values on both engines.

// idCardShape is the shape pii.ResidentIDValid accepts before its checks.
const idCardShape = `^[0-9]{17}[0-9Xx]$`

// idCardWeights are GB 11643's weights, 2^(18-i) mod 11.
var idCardWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// pow10 returns 10^k as an integer literal.
func pow10(k int) string { return "1" + strings.Repeat("0", k) }

// intDiv is integer division: DuckDB's / on integers gives a double.
func intDiv(d Dialect, a, b string) string {
	if d == DuckDB {
		return "(" + a + " // " + b + ")"
	}
	return "(" + a + " / " + b + ")"
}

// idCardNumber is the derived value an id_card check works on: the first
// 17 digits as a BIGINT when text has the right shape, else NULL. Reading
// the digits arithmetically from one integer is far cheaper than 17
// substrings, and computing it once in an inner projection lets the
// checks below refer to it many times.
func idCardNumber(text string) string {
	return "CASE WHEN " + text + " ~ " + quoteLiteral(idCardShape) + " THEN CAST(substr(" + text + ", 1, 17) AS BIGINT) END"
}

// idCardValid is true when the number n (idCardNumber of text) has the
// right check character and a real birth date between 1850 and 2100, as
// pii.ResidentIDValid; NULL when n is NULL.
func idCardValid(d Dialect, n, text string) string {
	terms := make([]string, 17)
	for i := 0; i < 17; i++ {
		digit := intDiv(d, n, pow10(16-i)) + " % 10"
		if i == 16 {
			digit = n + " % 10"
		}
		terms[i] = fmt.Sprintf("%d * (%s)", idCardWeights[i], digit)
	}
	sum := "(" + strings.Join(terms, " + ") + ")"
	check := "substr('10X98765432', CAST(" + sum + " % 11 AS INTEGER) + 1, 1) = upper(substr(" + text + ", 18, 1))"
	y := "(" + intDiv(d, n, pow10(7)) + " % 10000)"
	m := "(" + intDiv(d, n, pow10(5)) + " % 100)"
	day := "(" + intDiv(d, n, pow10(3)) + " % 100)"
	return "(" + check + " AND " + ymdValid(y, m, day, "1850", "2100") + ")"
}

// ymdValid is true when y-m-d is a real calendar date with y in [lo, hi].
func ymdValid(y, m, d, lo, hi string) string {
	leap := "((" + y + " % 4 = 0 AND " + y + " % 100 <> 0) OR " + y + " % 400 = 0)"
	last := "CASE WHEN " + m + " IN (4, 6, 9, 11) THEN 30 WHEN " + m + " = 2 THEN CASE WHEN " + leap +
		" THEN 29 ELSE 28 END ELSE 31 END"
	return "(" + y + " BETWEEN " + lo + " AND " + hi + " AND " + m + " BETWEEN 1 AND 12 AND " + d + " >= 1 AND " +
		d + " <= " + last + ")"
}

// creditCharset is GB 32100's 31 symbols (no I, O, S, V, Z); a symbol's
// value is its position.
const creditCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// creditShape is the character set after upper-casing and trimming, as
// identity.ValidateCreditCode does.
const creditShape = `^[0-9A-HJ-NP-RTUW-Y]{18}$`

// creditWeights are GB 32100's weights, 3^(i-1) mod 31.
var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// orgWeights are GB 11714's weights for the organisation code's body.
var orgWeights = [8]int{3, 7, 9, 10, 5, 8, 4, 2}

// creditNormal is the code as the validator reads it: trimmed, upper-case.
// Codes already in shape skip upper and trim, which cost more than the
// regular expression that spares them.
func creditNormal(text string) string {
	return "CASE WHEN " + text + " ~ " + quoteLiteral(creditShape) + " THEN " + text + " ELSE upper(trim(" + text + ")) END"
}

// creditShaped is the normalised code when its characters are all in the
// set, else NULL.
func creditShaped(norm string) string {
	return "CASE WHEN " + norm + " ~ " + quoteLiteral(creditShape) + " THEN " + norm + " END"
}

// creditShapedOnce is creditShaped(creditNormal(text)) testing a code
// already in shape once instead of twice.
func creditShapedOnce(text string) string {
	norm := "upper(trim(" + text + "))"
	return "CASE WHEN " + text + " ~ " + quoteLiteral(creditShape) + " THEN " + text + " WHEN " + norm + " ~ " +
		quoteLiteral(creditShape) + " THEN " + norm + " END"
}

// creditValid is true when the shaped code u has both check characters
// right (the organisation code's, GB 11714, and the whole code's, GB 32100);
// NULL when u is NULL.
func creditValid(u string) string {
	terms := make([]string, 17)
	for i := 0; i < 17; i++ {
		terms[i] = fmt.Sprintf("%d * (strpos('%s', substr(%s, %d, 1)) - 1)", creditWeights[i], creditCharset, u, i+1)
	}
	sum := "(" + strings.Join(terms, " + ") + ")"
	check := "substr('" + creditCharset + "', CAST((31 - " + sum + " % 31) % 31 AS INTEGER) + 1, 1) = substr(" + u + ", 18, 1)"
	// GB 11714 gives letters the values 10..35 by their place in A-Z.
	org := make([]string, 8)
	for i := 0; i < 8; i++ {
		org[i] = fmt.Sprintf("%d * (strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(%s, %d, 1)) - 1)", orgWeights[i], u, i+9)
	}
	orgSum := "(" + strings.Join(org, " + ") + ")"
	orgCheck := "substr('0X987654321', CAST(" + orgSum + " % 11 AS INTEGER) + 1, 1) = substr(" + u + ", 17, 1)"
	return "(" + orgCheck + " AND " + check + ")"
}

// mobileShape is a mainland mobile number as stored: no prefix, no spaces.
const mobileShape = `^1[3-9][0-9]{9}$`

// layoutField is one number in a date layout, at a character position.
type layoutField struct {
	kind  byte // Y M D h m s
	pos   int  // 1-based character position
	width int
}

// dateLayout is a compiled Go time layout: the regular expression a value
// must match and where its numbers are.
type dateLayout struct {
	re     string
	fields []layoutField
}

// compileLayout accepts the zero-padded Go layout elements 2006, 01, 02,
// 15, 04 and 05 and literal separators; letters and digits outside those
// elements are refused because Go would read them as other elements
// (Jan, Mon, 1, 2 …) that have no fixed width.
func compileLayout(layout string) (dateLayout, error) {
	var l dateLayout
	var re strings.Builder
	re.WriteString("^")
	pos := 1
	has := map[byte]bool{}
	for i := 0; i < len(layout); {
		matched := false
		for _, el := range []struct {
			s    string
			kind byte
		}{{"2006", 'Y'}, {"01", 'M'}, {"02", 'D'}, {"15", 'h'}, {"04", 'm'}, {"05", 's'}} {
			if strings.HasPrefix(layout[i:], el.s) {
				if has[el.kind] {
					return dateLayout{}, fmt.Errorf("layout %q repeats %s", layout, el.s)
				}
				has[el.kind] = true
				l.fields = append(l.fields, layoutField{el.kind, pos, len(el.s)})
				fmt.Fprintf(&re, "[0-9]{%d}", len(el.s))
				pos += len(el.s)
				i += len(el.s)
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		r, size := utf8.DecodeRuneInString(layout[i:])
		if r == utf8.RuneError || (r < 128 && (r >= '0' && r <= '9' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) && r != 'T') {
			return dateLayout{}, fmt.Errorf("layout %q: %q is not a supported element", layout, string(r))
		}
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			re.WriteByte('\\')
		}
		re.WriteRune(r)
		pos++
		i += size
	}
	if !has['Y'] || !has['M'] || !has['D'] {
		return dateLayout{}, fmt.Errorf("layout %q needs 2006, 01 and 02", layout)
	}
	re.WriteString("$")
	l.re = re.String()
	return l, nil
}

// valid is true when text (matching l.re, or NULL) is a real date and time.
// at computes each field once (at a level of the plan) and returns its
// name: the day check uses the year and month several times.
func (l dateLayout) valid(text string, at func(expr string) string) string {
	field := func(f layoutField) string {
		return at(fmt.Sprintf("CAST(substr(%s, %d, %d) AS INTEGER)", text, f.pos, f.width))
	}
	var y, m, d string
	var extra []string
	for _, f := range l.fields {
		switch f.kind {
		case 'Y':
			y = field(f)
		case 'M':
			m = field(f)
		case 'D':
			d = field(f)
		case 'h':
			extra = append(extra, field(f)+" < 24")
		case 'm', 's':
			extra = append(extra, field(f)+" < 60")
		}
	}
	conds := append([]string{ymdValid(y, m, d, "1", "9999")}, extra...)
	return "(" + strings.Join(conds, " AND ") + ")"
}
