package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/workday"
)

// cmdWorkday computes deadlines on the official working-day calendar, for
// people and scripts: "add DATE N" prints the N-th working day after DATE,
// "between A B" the number of working days after A up to B.
func cmdWorkday(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const synopsis = "workday add DATE N | workday between DATE DATE [--calendar FILE]"
	if len(args) == 0 || (args[0] != "add" && args[0] != "between") {
		fmt.Fprintf(stderr, "Usage: gongshu %s\n", synopsis)
		return errors.New("workday: want add or between")
	}
	sub := args[0]
	var calendar string
	fs := newFlagSet("workday "+sub, synopsis, stderr)
	fs.StringVar(&calendar, "calendar", "", "a calendar file adding years the release does not know (format: internal/workday/cn.txt)")
	// Positional arguments come first; flags may follow them.
	var pos []string
	rest := args[1:]
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		pos, rest = append(pos, rest[0]), rest[1:]
	}
	if err := parse(fs, rest, getenv); err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("usage: gongshu %s", synopsis)
	}
	cal := workday.Default()
	if calendar != "" {
		var err error
		if cal, err = cal.WithFile(calendar); err != nil {
			return err
		}
	}
	a, err := time.Parse(time.DateOnly, pos[0])
	if err != nil {
		return fmt.Errorf("%q is not a date: use YYYY-MM-DD", pos[0])
	}
	var r workday.Result
	if sub == "add" {
		n, err := strconv.Atoi(pos[1])
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a number of working days (0 or more)", pos[1])
		}
		r = cal.Add(a, n)
		fmt.Fprintln(stdout, r.Date.Format(time.DateOnly))
	} else {
		b, err := time.Parse(time.DateOnly, pos[1])
		if err != nil {
			return fmt.Errorf("%q is not a date: use YYYY-MM-DD", pos[1])
		}
		r = cal.Between(a, b)
		fmt.Fprintln(stdout, r.Days)
	}
	for _, y := range r.Assumed {
		fmt.Fprintf(stderr, "warning: no official holiday data for %d; counted Monday to Friday only. Add the year with --calendar FILE once the State Council publishes it.\n", y)
	}
	return nil
}
