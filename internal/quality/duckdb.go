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
