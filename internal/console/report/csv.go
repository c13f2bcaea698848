package report

import (
	"encoding/csv"
	"io"
	"strings"
)

// WriteCSV writes the report's table: the header, then a row per
// category. Cells that a spreadsheet would run as a formula are prefixed
// with a quote (CSV injection).
func (rep *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(rep.Header); err != nil {
		return err
	}
	for _, row := range rep.Rows {
		safe := make([]string, len(row))
		for i, c := range row {
			if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				c = "'" + c
			}
			safe[i] = c
		}
		if err := cw.Write(safe); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
