package rollup

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// QueryFlags are the flags of `midtable query`.
type QueryFlags struct {
	Table, By, From, To, Order, Gateway string
	Top                                 int
	Raw                                 bool
	where                               map[byte]*string
}

// RegisterFlags adds the query flags to fs.
func (f *QueryFlags) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.Table, "table", "F", "table: A sessions, F flows, T online time, U web requests")
	fs.StringVar(&f.By, "by", "U", "group by these dimensions: G group, U user, I IP, T app type, A app (e.g. UA); empty for one total")
	fs.StringVar(&f.From, "from", "", "start, local time: 2026-11-21 13:00[:SS]")
	fs.StringVar(&f.To, "to", "", "end (exclusive), local time")
	fs.StringVar(&f.Order, "order", "", "sort by this measure, descending (default the table's first: bytes_up, online_seconds, requests)")
	fs.IntVar(&f.Top, "top", 10, "rows to print; 0 for all")
	fs.StringVar(&f.Gateway, "gw", "", "one gateway (8 hex digits); default all")
	fs.BoolVar(&f.Raw, "raw", false, "answer from the raw day tables only (to compare)")
	f.where = make(map[byte]*string)
	for _, d := range []struct {
		name string
		dim  byte
	}{{"group", 'G'}, {"user", 'U'}, {"ip", 'I'}, {"app-type", 'T'}, {"app", 'A'}} {
		fs.Func(d.name, fmt.Sprintf("only this %s (\\N for NULL)", d.name), func(s string) error {
			f.where[d.dim] = &s
			return nil
		})
	}
}

// timeLayouts are the forms -from and -to accept.
var timeLayouts = []string{"2006-01-02 15:04:05.999999", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

func parseLocal(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a local time like 2026-11-21 13:00", s)
}

// Query returns the query the flags describe.
func (f *QueryFlags) Query() (Query, error) {
	if len(f.Table) != 1 {
		return Query{}, errors.New("-table wants one letter: A, F, T or U")
	}
	if f.From == "" || f.To == "" {
		return Query{}, errors.New("-from and -to are required")
	}
	from, err := parseLocal(f.From)
	if err != nil {
		return Query{}, fmt.Errorf("-from: %w", err)
	}
	to, err := parseLocal(f.To)
	if err != nil {
		return Query{}, fmt.Errorf("-to: %w", err)
	}
	q := Query{Table: strings.ToUpper(f.Table)[0], By: strings.ToUpper(f.By), From: from, To: to,
		OrderBy: f.Order, Top: f.Top, Gateway: f.Gateway, RawOnly: f.Raw}
	for i := 0; i < len(DimOrder); i++ {
		if v := f.where[DimOrder[i]]; v != nil {
			q.Where = append(q.Where, Cond{Dim: DimOrder[i], Value: *v, Null: *v == `\N`})
		}
	}
	return q, nil
}

// PrintAnswer writes the tables a query used and its rows.
func PrintAnswer(w io.Writer, pl Plan, rows []Row, took time.Duration) {
	missing := 0
	for _, p := range pl.Parts {
		if p.Missing {
			missing++
			fmt.Fprintln(w, "# missing", p.String(), "(no such table: this part is not counted)")
			continue
		}
		fmt.Fprintln(w, "# used", p.String())
	}
	if missing > 0 {
		// Usually the rollups were never built: midtable runs as a
		// daemon, or once by hand.
		fmt.Fprintln(w, "# rollup or day tables are missing: if the days have rows, build the rollups with `midtable -once`"+
			" (or run midtable as a daemon); a day without any row has no tables")
	}
	fmt.Fprintf(w, "# %d row(s) in %v\n", len(rows), took.Round(time.Microsecond))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var head []string
	for i := 0; i < len(pl.Dims); i++ {
		d, _ := DimByLetter(pl.Dims[i])
		head = append(head, d.Column)
	}
	for _, m := range pl.Source.Measures {
		head = append(head, m.Column)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		var cells []string
		for _, d := range r.Dims {
			switch {
			case !d.Valid:
				cells = append(cells, "NULL")
			case utf8.ValidString(d.String) && !strings.ContainsAny(d.String, "\t\n\r\\\"") && d.String != "":
				cells = append(cells, d.String)
			default:
				cells = append(cells, strconv.Quote(d.String))
			}
		}
		for _, s := range r.Sums {
			cells = append(cells, strconv.FormatUint(s, 10))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}
