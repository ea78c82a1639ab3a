package quality

import (
	"context"
	"regexp"
	"strconv"
	"strings"
)

// DuckDB-specific forms of the costliest checks. DuckDB runs the fused
// statement vectorised, so its cost is the number of operations per row;
// these forms give the same answers with fewer of them. PostgreSQL keeps
// the portable forms in compile.go and sqlexpr.go.

// maxKeyBits bounds the bitmap a unique rule on an integer key may use
// (16 MiB per thread); wider keys are counted with count(DISTINCT).
const maxKeyBits = 1 << 27

// keyRange is the span of an integer key column from DuckDB's statistics.
type keyRange struct{ lo, hi int64 }

// statsRange matches the head of DuckDB's stats() text for an integer column.
var statsRange = regexp.MustCompile(`^\[Min: (-?[0-9]+), Max: (-?[0-9]+)\]`)

// integerType reports whether a DuckDB type is an integer of at most 64 bits.
func integerType(t string) bool {
	switch strings.ToUpper(t) {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT":
		return true
	}
	return false
}

// integerKeyRange reads the span of an integer column from the table's
// statistics (no scan: stats() is answered when the statement is bound, and
// LIMIT 1 stops after the first vector). ok is false when the statistics
// are missing or the span is too wide for a bitmap.
func (p *plan) integerKeyRange(ctx context.Context, d Domain, col string) (keyRange, bool) {
	if p.d != DuckDB || !integerType(p.cols[col].Type) {
		return keyRange{}, false
	}
	var text string
	found := false
	err := d.Query(ctx, "SELECT CAST(stats("+quoteIdent(col)+") AS TEXT) FROM "+p.table+" LIMIT 1", func(scan func(...any) error) error {
		var v any
		if err := scan(&v); err != nil {
			return err
		}
		text, found = toText(v)
		return nil
	})
	if err != nil || !found {
		return keyRange{}, false
	}
	m := statsRange.FindStringSubmatch(text)
	if m == nil {
		return keyRange{}, false
	}
	lo, err1 := strconv.ParseInt(m[1], 10, 64)
	hi, err2 := strconv.ParseInt(m[2], 10, 64)
	if err1 != nil || err2 != nil || hi < lo || hi-lo >= maxKeyBits {
		return keyRange{}, false
	}
	return keyRange{lo, hi}, true
}

// offset is the key minus the range's low end, as a BIGINT in [0, hi-lo].
func (k keyRange) offset(raw string) string {
	return "(CAST(" + raw + " AS BIGINT) - " + strconv.FormatInt(k.lo, 10) + ")"
}

// distinct counts the distinct values of an integer column by setting one
// bit per value instead of hashing every row (count(DISTINCT) builds a hash
// table as large as the table).
func (k keyRange) distinct(col string) string {
	return "bit_count(bitstring_agg(" + col + ", " + strconv.FormatInt(k.lo, 10) + ", " + strconv.FormatInt(k.hi, 10) + "))"
}

// bucketBits is the width of the key blocks the duplicate search groups by.
const bucketBits = 12

// duplicateKeys is the statement that finds a unique rule's repeated keys:
// first the blocks of 4,096 consecutive keys holding more rows than distinct
// keys (one bitmap per block), then the grouped count over those blocks'
// rows only, in the same order as the general form (most repeated first,
// then by key text).
func (k keyRange) duplicateKeys(table, raw, keyText string, limit int) string {
	off := k.offset(raw)
	block := "(" + off + " >> " + strconv.Itoa(bucketBits) + ")"
	blocks := "SELECT " + block + " AS b FROM " + table + " t WHERE " + raw + " IS NOT NULL GROUP BY 1 HAVING count(*) > " +
		"bit_count(bitstring_agg(CAST(" + off + " & " + strconv.Itoa(1<<bucketBits-1) + " AS INTEGER), 0, " + strconv.Itoa(1<<bucketBits-1) + "))"
	return "SELECT " + keyText + ", count(*) FROM " + table + " t WHERE " + raw + " IS NOT NULL AND " + block +
		" IN (" + blocks + ") GROUP BY " + raw + " HAVING count(*) > 1 ORDER BY 2 DESC, 1 LIMIT " + strconv.Itoa(limit)
}

// digitTable is a constant list of 1,000 entries, one per three-digit
// chunk c: f(c) with f given the chunk's units, tens and hundreds digits.
func digitTable(f func(u, t, h int) int) string {
	var b strings.Builder
	b.WriteString("[")
	for c := 0; c < 1000; c++ {
		if c > 0 {
			b.WriteString(",")
		}
		b.WriteString(strconv.Itoa(f(c%10, c/10%10, c/100)))
	}
	b.WriteString("]")
	return b.String()
}

// idCardGlob is idCardShape as a GLOB pattern, which DuckDB matches in
// about half the time of the regular expression.
var idCardGlob = strings.Repeat("[0-9]", 17) + "[0-9Xx]"

// idCardDuck is idCardValid for DuckDB. GB 11643's weight for the digit at
// 10^k of the 17-digit body is 2^(k+1) mod 11, so a three-digit chunk at
// 10^p contributes 2^p·φ(chunk), φ(c) = 2·units + 4·tens + 8·hundreds: one
// table of φ mod 11 serves every chunk. The body is cut at the birth
// date's fields (sequence, day, month, year, region), so the same few
// integer divisions give both the check digit and the date, instead of
// seventeen digits by two divisions each. The whole number, check digit
// included, is one cast when the last character is a digit.
func (p *plan) idCardDuck(text string) string {
	shaped := p.add(2, "("+text+" GLOB "+quoteLiteral(idCardGlob)+")")
	n18 := p.add(3, "CASE WHEN "+shaped+" THEN TRY_CAST("+text+" AS BIGINT) END")
	body := p.add(4, "CASE WHEN "+shaped+" THEN coalesce("+n18+" // 10, CAST(substr("+text+", 1, 17) AS BIGINT)) END")
	// The check character's value, X (or x) as 10.
	check := p.add(4, "coalesce("+n18+" % 10, 10)")
	seq := p.add(5, "("+body+" % 1000)")
	day := p.add(5, "("+body+" // 1000 % 100)")
	month := p.add(5, "("+body+" // 100000 % 100)")
	year := p.add(5, "("+body+" // 10000000 % 10000)")
	region := p.add(5, "("+body+" // 100000000000)")
	phi := digitTable(func(u, t, h int) int { return (2*u + 4*t + 8*h) % 11 })
	at := func(weight int, chunk string) string {
		return strconv.Itoa(weight) + " * " + phi + "[" + chunk + " + 1]"
	}
	// 2^p mod 11 for p = 0, 3, 5, 7, 9, 11, 14.
	sum := strings.Join([]string{at(1, seq), at(8, day), at(10, month), at(7, year+" % 100"), at(6, year+" // 100"),
		at(2, region+" % 1000"), at(5, region+" // 1000")}, " + ")
	// '10X98765432'[s] has the value (12 - s) mod 11, X being 10.
	return "(" + check + " = (12 - (" + sum + ") % 11) % 11 AND " + ymdValid(year, month, day, "1850", "2100") + ")"
}

// byteTable is a constant list indexed by a character's byte minus 47, for
// the bytes 0 (48) to Y (89): f of the character, 0 outside set.
func byteTable(set string, f func(i int) int) string {
	var b strings.Builder
	b.WriteString("[")
	for c := byte('0'); c <= 'Y'; c++ {
		if c > '0' {
			b.WriteString(",")
		}
		v := 0
		if i := strings.IndexByte(set, c); i >= 0 {
			v = f(i)
		}
		b.WriteString(strconv.Itoa(v))
	}
	b.WriteString("]")
	return b.String()
}

// codes lists the bytes of s as a constant list.
func codes(s string) string {
	out := make([]string, len(s))
	for i := 0; i < len(s); i++ {
		out[i] = strconv.Itoa(int(s[i]))
	}
	return "[" + strings.Join(out, ",") + "]"
}

// creditDuck is creditValid for DuckDB. A shaped code is 18 ASCII
// characters, so its characters 3 to 18 are 16 bytes that one cast turns
// into a 128-bit integer, split into two 64-bit words of eight byte lanes.
// Each character's value in the alphabet is its byte minus '0', minus 7
// from A on and minus one more past each of I, O, S and V; the lanes at or
// past a byte are found for all eight lanes at once with one subtraction
// (SWAR: each lane's top bit is set first, so no lane borrows from the
// next), and the values are read back lane by lane with a shift and a
// mask. Integer operations cost DuckDB a fraction of one string function
// call, and reading the characters one by one as strings costs several
// times the whole scan. Characters 1 and 2 are read with ascii().
func (p *plan) creditDuck(text string) string {
	sh := p.add(2, creditShapedOnce(text))
	a := p.add(3, "CAST(CAST(encode(substr("+sh+", 3, 16)) AS BIT) AS UHUGEINT)")
	head := [2]string{p.add(3, "ascii("+sh+")"), p.add(3, "ascii(substr("+sh+", 2, 1))")}
	words := [2]string{p.add(4, "CAST("+a+" >> 64 AS UBIGINT)"), p.add(4, "CAST("+a+" & 18446744073709551615 AS UBIGINT)")}
	const lanes = uint64(0x0101010101010101)
	top := strconv.FormatUint(lanes*0x80, 10)
	// at(w, c) has 1 in the lanes of w whose byte is c or more.
	at := func(w string, c uint64) string {
		return "((((" + w + " | " + top + ") - " + strconv.FormatUint(lanes*c, 10) + ") & " + top + ") >> 7)"
	}
	var value, org [2]string // the words' lanes as credit and organisation-code values
	for i, w := range words {
		minus := "(" + w + " - " + strconv.FormatUint(lanes*'0', 10)
		letters := p.add(5, at(w, 'A'))
		org[i] = p.add(6, minus+" - 7 * "+letters+")")
		value[i] = p.add(6, minus+" - 7 * "+letters+" - "+at(w, 'J')+" - "+at(w, 'P')+" - "+at(w, 'T')+" - "+at(w, 'W')+")")
	}
	// lane returns character i's lane (3..18) of one of the word pairs.
	lane := func(pair [2]string, i int) string {
		w, shift := pair[0], 8*(10-i)
		if i > 10 {
			w, shift = pair[1], 8*(18-i)
		}
		if shift == 0 {
			return "(" + w + " & 255)"
		}
		return "(" + w + " >> " + strconv.Itoa(shift) + " & 255)"
	}
	headValue := byteTable(creditCharset, func(i int) int { return i })
	terms := make([]string, 17)
	for i := 1; i <= 17; i++ {
		v := ""
		if i <= 2 {
			// UBIGINT like the lanes: mixing it with INTEGER would make
			// the whole sum a 128-bit HUGEINT, several times slower.
			v = p.add(4, "CAST("+headValue+"["+head[i-1]+" - 47] AS UBIGINT)")
		} else {
			v = lane(value, i)
		}
		terms[i-1] = strconv.Itoa(creditWeights[i-1]) + " * " + v
	}
	check := codes(creditCharset) + "[CAST((31 - (" + strings.Join(terms, " + ") + ") % 31) % 31 AS BIGINT) + 1] = " + lane(words, 18)
	oterms := make([]string, 8)
	for i := 0; i < 8; i++ {
		oterms[i] = strconv.Itoa(orgWeights[i]) + " * " + lane(org, i+9)
	}
	orgCheck := codes("0X987654321") + "[CAST((" + strings.Join(oterms, " + ") + ") % 11 AS BIGINT) + 1] = " + lane(words, 17)
	return "(" + orgCheck + " AND " + check + ")"
}

// allowedJoin is an allowed rule as a join with its values, like a
// reference rule: DuckDB compares a value with an IN list one constant at
// a time, and probes a hash table once.
func (p *plan) allowedJoin(r Rule) string {
	seen := map[string]bool{}
	var rows []string
	for _, v := range r.Values {
		if !seen[v] {
			seen[v] = true
			rows = append(rows, "("+quoteLiteral(v)+")")
		}
	}
	alias := "r" + strconv.Itoa(len(p.joins))
	p.joins = append(p.joins, "LEFT JOIN (VALUES "+strings.Join(rows, ", ")+") "+alias+"(v) ON "+p.rawText(r.Column)+" = "+alias+".v")
	return p.joinFlag(alias)
}
