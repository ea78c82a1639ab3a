package synth

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
)

// sink writes rows through a csv.Writer, counting them, reporting
// progress and noticing cancellation every few thousand rows.
type sink struct {
	ctx      context.Context
	cw       *csv.Writer
	rec      []string
	n        int64
	progress func(int64)
}

const checkEvery = 4096

func (s *sink) row() error {
	if err := s.cw.Write(s.rec); err != nil {
		return err
	}
	s.n++
	if s.n%checkEvery == 0 {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		if s.progress != nil && s.n%(checkEvery*16) == 0 {
			s.progress(s.n)
		}
	}
	return nil
}

// WriteCSV streams d's rows as CSV with a header line of column names.
// The output is a function of (d.Name, d.Scale, seed) only: the same seed
// gives byte-identical output, and every dataset generated with one seed
// and scale refers to the same enterprises and persons. Memory use does
// not grow with the row count. progress, if not nil, is called now and
// then with the number of rows written so far, and once at the end.
func WriteCSV(ctx context.Context, w io.Writer, d Dataset, seed uint64, progress func(rows int64)) error {
	gen, ok := generators[d.Name]
	if !ok {
		return fmt.Errorf("synth: unknown dataset %q", d.Name)
	}
	if d.Scale <= 0 {
		return fmt.Errorf("synth: dataset %q has scale %v; take it from Catalog", d.Name, d.Scale)
	}
	s := &sink{ctx: ctx, cw: csv.NewWriter(w), progress: progress}
	s.rec = make([]string, len(d.Columns))
	for i, c := range d.Columns {
		s.rec[i] = c.Name
	}
	if err := s.cw.Write(s.rec); err != nil {
		return err
	}
	wd := newWorld(d.Scale, seed)
	if uint64(wd.nPerson) > wd.ids.size/16 {
		// Beyond this the persons would crowd the identity number space
		// and stop following the intended distribution.
		return fmt.Errorf("synth: scale %v is too large for unique identity numbers", d.Scale)
	}
	if err := gen(wd, s); err != nil {
		return fmt.Errorf("synth: %s: %w", d.Name, err)
	}
	s.cw.Flush()
	if err := s.cw.Error(); err != nil {
		return fmt.Errorf("synth: %s: %w", d.Name, err)
	}
	if s.n != d.Rows {
		return fmt.Errorf("synth: %s: wrote %d rows, catalog says %d", d.Name, s.n, d.Rows)
	}
	if progress != nil {
		progress(s.n)
	}
	return nil
}

var generators = map[string]func(*world, *sink) error{
	"enterprise_registry":      genRegistry,
	"tax_credit":               genTax,
	"social_insurance":         genSocial,
	"housing_fund":             genFund,
	"real_estate_transactions": genEstate,
	"bus_ridership":            genBus,
	"electricity_consumption":  genPower,
}

func money(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

func itoa(x int64) string { return strconv.FormatInt(x, 10) }

func dateString(y, m, d int) string { return string(appendDate(make([]byte, 0, 10), y, m, d)) }

func monthString(y, m int) string {
	b := appendPad(make([]byte, 0, 7), y, 4)
	b = append(b, '-')
	return string(appendPad(b, m, 2))
}

func capitalString(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
