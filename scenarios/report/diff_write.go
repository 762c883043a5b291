package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteDiffText writes d for a terminal: the two runs, the method, and a
// table of the flagged rows (every row with all), then how many rows were
// compared and flagged.
func WriteDiffText(w io.Writer, d *Diff, all bool) error {
	if d == nil {
		return errors.New("report: WriteDiffText of a nil Diff")
	}
	var b bytes.Buffer
	run := func(side string, r DiffRun) {
		fmt.Fprintf(&b, "%s: %s — scenario %s, %s clock, seed %d, %d devices\n", side, r.Label, r.Scenario, r.Clock, r.Seed, r.Devices)
	}
	run("A", d.A)
	run("B", d.B)
	fmt.Fprintf(&b, "\n%s; flagged when the adjusted p < %g.\n\n", d.Method, d.Alpha)
	var rows []DiffRow
	for _, r := range d.Rows {
		if all || r.Flagged {
			rows = append(rows, r)
		}
	}
	if len(rows) > 0 {
		tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "group\toutcome\tA\t\tB\t\tB − A\t95% CI\tp\tp adj\t\t")
		for _, r := range rows {
			flag := ""
			if r.Flagged {
				flag = "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%d/%d\t%s\t%s\t%s … %s\t%s\t%s\t%s\t\n", r.Group, r.Outcome, r.A, r.NA, share(r.A, r.NA),
				r.B, r.NB, share(r.B, r.NB), points(r.Delta), points(r.Lo), points(r.Hi), pvalue(r.P), pvalue(r.PAdj), flag)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		b.WriteByte('\n')
	}
	switch {
	case d.Flagged == 0:
		fmt.Fprintf(&b, "%d comparisons, none beyond what chance explains.\n", d.Tests)
	default:
		fmt.Fprintf(&b, "%d comparisons, %d flagged (*): beyond what chance explains at α = %g.\n", d.Tests, d.Flagged, d.Alpha)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteDiffJSON writes d as indented JSON, every row included.
func WriteDiffJSON(w io.Writer, d *Diff) error {
	if d == nil {
		return errors.New("report: WriteDiffJSON of a nil Diff")
	}
	n := *d
	n.Rows = make([]DiffRow, len(d.Rows))
	for i, r := range d.Rows {
		r.Group, r.Outcome = valid(r.Group), valid(r.Outcome)
		r.Delta, r.Lo, r.Hi, r.P, r.PAdj = finite(r.Delta), finite(r.Lo), finite(r.Hi), finite(r.P), finite(r.PAdj)
		n.Rows[i] = r
	}
	for _, s := range []*DiffRun{&n.A, &n.B} {
		s.Label, s.Scenario, s.Clock = valid(s.Label), valid(s.Scenario), valid(s.Clock)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&n); err != nil {
		return fmt.Errorf("report: encoding the diff: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

var diffTmpl = template.Must(template.New("diff").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="brickyard">
<title>brickyard report diff: {{.A.Label}} against {{.B.Label}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fff;margin:0 auto;padding:0 16px 48px;max-width:1000px}
h1{font-size:22px;margin:20px 0 8px}
table{border-collapse:collapse;margin:8px 0;font-size:13px;max-width:100%}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f4f4f4}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;overflow-wrap:normal}
.scroll{max-width:100%;overflow-x:auto}
tr.flagged td{background:#fde2e1;font-weight:600}
.note{color:#666;font-size:13px}
.filter input{position:absolute;opacity:0;width:1px;height:1px}
.filter label{display:inline-block;border:1px solid #ccc;border-radius:12px;padding:1px 10px;margin:2px 4px 2px 0;cursor:pointer;font-size:13px}
.filter input:checked+label{background:#2c5d8f;color:#fff;border-color:#2c5d8f}
#df-flagged:checked~.scroll tr.row:not(.flagged){display:none}
</style>
</head>
<body>
<h1>Comparing two runs</h1>
<table>
<tr><th></th><th>Report</th><th>Scenario</th><th>Clock</th><th class="n">Seed</th><th class="n">Devices</th></tr>
<tr><th>A</th><td>{{.A.Label}}</td><td>{{.A.Scenario}}</td><td>{{.A.Clock}}</td><td class="n">{{.A.Seed}}</td><td class="n">{{.A.Devices}}</td></tr>
<tr><th>B</th><td>{{.B.Label}}</td><td>{{.B.Scenario}}</td><td>{{.B.Clock}}</td><td class="n">{{.B.Seed}}</td><td class="n">{{.B.Devices}}</td></tr>
</table>
<p>{{.Method}}; a row is flagged when its adjusted p is below {{.Alpha}}. {{.Tests}} comparisons, {{.Flagged}} flagged.</p>
<div class="filter">Show:
<input type="radio" name="diff-filter" id="df-all"{{if not .Flagged}} checked{{end}}><label for="df-all">all rows</label>
<input type="radio" name="diff-filter" id="df-flagged"{{if .Flagged}} checked{{end}}><label for="df-flagged">flagged rows</label>
<div class="scroll"><table>
<tr><th>Group</th><th>Outcome</th><th class="n">A</th><th class="n">A share</th><th class="n">B</th><th class="n">B share</th><th class="n">B − A</th><th class="n">95% CI</th><th class="n">p</th><th class="n">p adj</th></tr>
{{- range .Rows}}
<tr class="row{{if .Flagged}} flagged{{end}}"><td>{{.Group}}</td><td>{{.Outcome}}</td><td class="n">{{.A}}/{{.NA}}</td><td class="n">{{.ShareA}}</td><td class="n">{{.B}}/{{.NB}}</td><td class="n">{{.ShareB}}</td><td class="n">{{.Delta}}</td><td class="n">{{.CI}}</td><td class="n">{{.P}}</td><td class="n">{{.PAdj}}</td></tr>
{{- end}}
</table></div>
</div>
{{- if not .Rows}}
<p class="note">The runs have no group in common.</p>
{{- end}}
</body>
</html>
`))

type diffPageRow struct {
	Group, Outcome, ShareA, ShareB, Delta, CI, P, PAdj string
	A, NA, B, NB                                       int
	Flagged                                            bool
}

// WriteDiffHTML writes d as one offline HTML page (no script): the runs,
// the method, and every row, flagged ones highlighted, with a CSS-only
// filter showing the flagged rows alone (chosen when there are some).
func WriteDiffHTML(w io.Writer, d *Diff) error {
	if d == nil {
		return errors.New("report: WriteDiffHTML of a nil Diff")
	}
	p := struct {
		A, B           DiffRun
		Method         string
		Alpha          float64
		Tests, Flagged int
		Rows           []diffPageRow
	}{A: d.A, B: d.B, Method: d.Method, Alpha: d.Alpha, Tests: d.Tests, Flagged: d.Flagged}
	for _, r := range d.Rows {
		p.Rows = append(p.Rows, diffPageRow{Group: r.Group, Outcome: r.Outcome, A: r.A, NA: r.NA, B: r.B, NB: r.NB,
			ShareA: share(r.A, r.NA), ShareB: share(r.B, r.NB), Delta: points(r.Delta),
			CI: strings.Join([]string{points(r.Lo), points(r.Hi)}, " … "), P: pvalue(r.P), PAdj: pvalue(r.PAdj), Flagged: r.Flagged})
	}
	var b bytes.Buffer
	if err := diffTmpl.Execute(&b, p); err != nil {
		return fmt.Errorf("report: rendering the diff: %w", err)
	}
	_, err := w.Write(clean(b.Bytes()))
	return err
}
