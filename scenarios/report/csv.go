package report

import (
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"
)

// CSVColumns are the columns of WriteCSV, in order.
var CSVColumns = []string{"id", "board", "wave", "outcome", "seen", "target", "version", "boots", "faults",
	"cuts", "last_cut_phase", "last_cut_op", "last_cut_addr", "last_cut_partition", "brick", "steps", "last_step", "last_step_at_s"}

// WriteCSV writes r's fleet as CSV (RFC 4180, as encoding/csv writes it):
// a header of CSVColumns, then one row per device in fleet order. wave is
// empty for a device in no wave; cuts is how many power cuts the device
// went through, the last_cut columns describe the last one; steps is the
// length of its timeline and last_step its last milestone.
func WriteCSV(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("report: WriteCSV of a nil Report")
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	row := make([]string, len(CSVColumns))
	for i := range r.Fleet {
		d := &r.Fleet[i]
		wave := ""
		if d.Wave != 0 {
			wave = strconv.Itoa(d.Wave)
		}
		var last Cut
		if n := len(d.Cuts); n > 0 {
			last = d.Cuts[n-1]
		}
		var step Step
		at := ""
		if n := len(d.Timeline); n > 0 {
			step = d.Timeline[n-1]
			at = strconv.FormatFloat(finite(float64(step.At)), 'f', -1, 64)
		}
		copy(row, []string{d.ID, d.Board, wave, d.Outcome, d.Seen, d.Target, d.Version, strconv.FormatUint(uint64(d.Boots), 10),
			d.Faults, strconv.Itoa(len(d.Cuts)), last.Phase, last.Op, last.Addr, last.Partition, d.Brick,
			strconv.Itoa(len(d.Timeline)), step.Kind, at})
		for k := range row {
			row[k] = strings.ToValidUTF8(row[k], "\uFFFD")
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
