package policy

import (
	"testing"

	pg "github.com/pganalyze/pg_query_go/v6"
)

const benchQuery = `SELECT e.district, t.grade, count(*) AS n, avg(e.registered_capital) AS capital
FROM enterprise e JOIN tax_grade t ON e.credit_code = t.credit_code
WHERE t.year = 2024 AND e.status = 'open'
GROUP BY e.district, t.grade ORDER BY n DESC LIMIT 20`

// BenchmarkParse is the baseline: pg_query's parse alone.
func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := pg.Parse(benchQuery); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	cat := testCatalog()
	for b.Loop() {
		if d := Validate(benchQuery, cat); !d.Allowed {
			b.Fatal(d.Code)
		}
	}
}

func BenchmarkRewrite(b *testing.B) {
	cat := testCatalog()
	for b.Loop() {
		if _, d := Rewrite(benchQuery, cat, Options{}); !d.Allowed {
			b.Fatal(d.Code)
		}
	}
}
