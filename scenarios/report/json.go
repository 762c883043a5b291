package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MarshalJSON writes s as a plain JSON number in the shortest decimal form
// that reads back as the same float64, never in exponent form
// (strconv.FormatFloat(s, 'f', -1, 64)): 1.5, 0.00025, 3600. NaN and ±Inf,
// which JSON cannot hold, are written as 0, and -0 as 0, so equal values
// always give the same bytes.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, finite(float64(s)), 'f', -1, 64), nil
}

// finite returns x, or 0 when x is NaN or ±Inf; -0 becomes 0.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || x == 0 {
		return 0
	}
	return x
}

// WriteJSON writes r as report.json: JSON indented by two spaces, except
// the fleet, one device a line, ending in a newline. The output is a pure
// function of r, byte for byte:
//
//   - fields in the declared order of the types in report.go; slices in the
//     order they hold (the filler orders them as their comments say;
//     WriteJSON does not reorder);
//   - times as RFC 3339 in UTC, with as many fractional-second digits as
//     needed ("2025-01-01T00:00:00Z", "2025-01-01T00:00:01.5Z");
//   - Seconds as plain decimals (see Seconds.MarshalJSON); NaN and ±Inf in
//     any float field are written as 0, -0 as 0;
//   - a nil slice whose field has no omitempty is written as [] (consumers
//     always see arrays); a nil or empty omitempty slice is left out;
//   - strings as UTF-8 with <, > and & not escaped; invalid UTF-8 is
//     replaced by U+FFFD (written as the character itself, so that a
//     report read back writes the same bytes).
//
// r is not modified. WriteJSON fails only if r is nil, a time's year is
// outside 0…9999 (RFC 3339 cannot write it), or w fails; nothing is written
// to w unless encoding succeeded.
func WriteJSON(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("report: WriteJSON of a nil Report")
	}
	n := normalized(r)
	fleet := n.Fleet
	n.Fleet = []Device{}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(n); err != nil {
		return fmt.Errorf("report: encoding report.json: %w", err)
	}
	// The fleet, the last field, one device a line: a 100,000-device
	// report stays a third of its indented size and still greps by line.
	const tail = "  \"fleet\": []\n}\n"
	if !bytes.HasSuffix(buf.Bytes(), []byte(tail)) {
		return errors.New("report: encoding report.json: fleet is not the last field")
	}
	buf.Truncate(buf.Len() - len(tail))
	buf.WriteString("  \"fleet\": [")
	line := json.NewEncoder(&buf)
	line.SetEscapeHTML(false)
	for i := range fleet {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n    ")
		if err := line.Encode(&fleet[i]); err != nil {
			return fmt.Errorf("report: encoding report.json: %w", err)
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
	}
	if len(fleet) > 0 {
		buf.WriteString("\n  ")
	}
	buf.WriteString("]\n}\n")
	_, err := w.Write(buf.Bytes())
	return err
}

// ReadJSON reads a report written by WriteJSON. Unknown fields, trailing
// data after the report and a missing report are errors. Arrays read back
// as non-nil (possibly empty) slices, so WriteJSON(ReadJSON(WriteJSON(r)))
// gives the same bytes as WriteJSON(r).
func ReadJSON(rd io.Reader) (*Report, error) {
	if rd == nil {
		return nil, errors.New("report: ReadJSON from a nil reader")
	}
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("report: reading report.json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("trailing data after the report")
		}
		return nil, fmt.Errorf("report: reading report.json: %w", err)
	}
	return &r, nil
}

// normalized returns a deep copy of r ready for encoding/json: times in
// UTC, non-finite floats as 0, nil arrays (without omitempty) as empty.
func normalized(r *Report) *Report {
	n := *r
	n.Scenario, n.Clock, n.MTP, n.Aborted = valid(r.Scenario), valid(r.Clock), valid(r.MTP), valid(r.Aborted)
	n.Start = utc(r.Start)
	n.End = utc(r.End)
	n.Duration = Seconds(finite(float64(r.Duration)))
	n.Wall = Seconds(finite(float64(r.Wall)))
	n.Outcomes = counts(r.Outcomes)
	n.ByBoard = make([]Group, len(r.ByBoard))
	for i, g := range r.ByBoard {
		g.Name = valid(g.Name)
		g.Outcomes = counts(g.Outcomes)
		n.ByBoard[i] = g
	}
	n.ByWave = make([]Wave, len(r.ByWave))
	for i, w := range r.ByWave {
		w.Name = valid(w.Name)
		w.Start = Seconds(finite(float64(w.Start)))
		w.End = Seconds(finite(float64(w.End)))
		w.Failures = finite(w.Failures)
		w.Outcomes = counts(w.Outcomes)
		n.ByWave[i] = w
	}
	n.Latency = r.Latency
	n.Latency.P50 = Seconds(finite(float64(r.Latency.P50)))
	n.Latency.P90 = Seconds(finite(float64(r.Latency.P90)))
	n.Latency.P99 = Seconds(finite(float64(r.Latency.P99)))
	n.Latency.Max = Seconds(finite(float64(r.Latency.Max)))
	n.Latency.Buckets = make([]Bucket, len(r.Latency.Buckets))
	for i, b := range r.Latency.Buckets {
		b.Le = Seconds(finite(float64(b.Le)))
		n.Latency.Buckets[i] = b
	}
	n.Messages = counts(r.Messages)
	n.Errors = nil
	if len(r.Errors) > 0 {
		n.Errors = counts(r.Errors)
	}
	n.Dropped = nil
	if len(r.Dropped) > 0 {
		n.Dropped = counts(r.Dropped)
	}
	n.Progress = make([]Sample, len(r.Progress))
	for i, s := range r.Progress {
		s.At = Seconds(finite(float64(s.At)))
		s.Outcomes = counts(s.Outcomes)
		n.Progress[i] = s
	}
	if len(r.Expectations) == 0 {
		n.Expectations = nil
	} else {
		n.Expectations = make([]Expectation, len(r.Expectations))
		for i, e := range r.Expectations {
			e.Expr = valid(e.Expr)
			e.Value = finite(e.Value)
			n.Expectations[i] = e
		}
	}
	n.Fleet = make([]Device, len(r.Fleet))
	for i, d := range r.Fleet {
		d.ID, d.Board, d.Outcome, d.Seen = valid(d.ID), valid(d.Board), valid(d.Outcome), valid(d.Seen)
		d.Version, d.Faults = valid(d.Version), valid(d.Faults)
		if d.Timeline == nil {
			d.Timeline = []Step{}
		} else {
			tl := make([]Step, len(d.Timeline))
			for j, s := range d.Timeline {
				s.At = Seconds(finite(float64(s.At)))
				s.Kind, s.Detail = valid(s.Kind), valid(s.Detail)
				tl[j] = s
			}
			d.Timeline = tl
		}
		n.Fleet[i] = d
	}
	normalizedMore(&n, r)
	return &n
}

// utc returns t in UTC without its monotonic reading.
func utc(t time.Time) time.Time { return t.UTC().Round(0) }

// counts returns cs, or an empty non-nil slice when cs is nil; cs is
// copied only if a name needs valid().
func counts(cs []Count) []Count {
	if cs == nil {
		return []Count{}
	}
	for i, c := range cs {
		if v := valid(c.Name); v != c.Name {
			out := slices.Clone(cs)
			for j := i; j < len(out); j++ {
				out[j].Name = valid(out[j].Name)
			}
			return out
		}
	}
	return cs
}

// valid replaces invalid UTF-8 with U+FFFD, as encoding/json would, so
// that reading the output back and writing it again gives the same bytes.
func valid(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
