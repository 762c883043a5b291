package report

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"strconv"
)

// DiffMethod names the test Compare applies, as reports of a comparison
// state it.
const DiffMethod = "Fisher's exact test (two-sided) of each outcome's share, Holm–Bonferroni adjusted over every comparison of the diff"

// Diff compares two runs: for each group of devices both runs have (the
// fleet, each board, each fault kind on each board, each power-cut phase
// on each board) and each outcome, the share of the group's devices that
// ended in it in run A and in run B, the difference, its 95 % confidence
// interval, and whether the difference is beyond what the runs' randomness
// explains: the outcome counts of the two runs are taken as independent
// samples, and Fisher's exact test asks how likely counts at least this
// far apart are if both runs had the same underlying share. The p-values
// are adjusted by Holm's method over every row of the diff, so that the
// chance of flagging any difference when there is none is at most Alpha.
type Diff struct {
	A       DiffRun   `json:"a"`
	B       DiffRun   `json:"b"`
	Method  string    `json:"method"`
	Alpha   float64   `json:"alpha"`
	Tests   int       `json:"tests"`   // rows compared (the Holm family)
	Flagged int       `json:"flagged"` // rows whose adjusted p-value is below Alpha
	Rows    []DiffRow `json:"rows"`
}

// DiffRun is what identifies one side of a Diff.
type DiffRun struct {
	Label    string `json:"label"` // as the caller named it (a file name)
	Scenario string `json:"scenario"`
	Clock    string `json:"clock"`
	Seed     uint64 `json:"seed"`
	Devices  int    `json:"devices"`
}

// DiffRow is one outcome of one group.
type DiffRow struct {
	Group   string `json:"group"` // "fleet", "board uboot-nor", "fault power-during-install on single-nor", "cut install on esp32-ota"
	Outcome string `json:"outcome"`
	A       int    `json:"a"`  // devices of the group in A that ended in Outcome
	NA      int    `json:"na"` // devices of the group in A
	B       int    `json:"b"`
	NB      int    `json:"nb"`
	// Delta is B's share minus A's; Lo and Hi its 95 % confidence interval
	// (Newcombe's hybrid score interval, from Wilson's intervals of each
	// share).
	Delta   float64 `json:"delta"`
	Lo      float64 `json:"lo"`
	Hi      float64 `json:"hi"`
	P       float64 `json:"p"`     // Fisher's exact test, two-sided
	PAdj    float64 `json:"p_adj"` // Holm-adjusted
	Flagged bool    `json:"flagged"`
}

// ErrDiffAlpha is returned for an alpha outside (0, 1).
var ErrDiffAlpha = errors.New("report: alpha must be in (0, 1)")

// diffGroup is one group's outcome counts in one run.
type diffGroup struct {
	n        int
	outcomes map[string]int
}

// diffGroups returns r's groups by name, and their names in report order.
func diffGroups(r *Report) (map[string]diffGroup, []string) {
	out := map[string]diffGroup{}
	var order []string
	add := func(name string, n int, cs []Count) {
		if n <= 0 {
			return
		}
		if _, dup := out[name]; dup {
			return
		}
		m := map[string]int{}
		for _, c := range cs {
			if c.N > 0 {
				m[c.Name] += c.N
			}
		}
		out[name] = diffGroup{n: n, outcomes: m}
		order = append(order, name)
	}
	add("fleet", r.Devices, r.Outcomes)
	for _, g := range r.ByBoard {
		add("board "+g.Name, g.Devices, g.Outcomes)
	}
	a := r.Analysis
	if a == nil {
		a = Analyze(r)
	}
	for _, f := range a.Faults {
		add("fault "+f.Fault+" on "+f.Board, f.Hit, f.Outcomes)
	}
	for _, f := range a.CutPhases {
		add("cut "+f.Fault+" on "+f.Board, f.Hit, f.Outcomes)
	}
	return out, order
}

// Compare compares run a with run b (labelled la and lb) at level alpha.
// A group found in only one run is not compared; nor is an outcome no
// device of the group ended in, in either run.
func Compare(a, b *Report, la, lb string, alpha float64) (*Diff, error) {
	if a == nil || b == nil {
		return nil, errors.New("report: Compare of a nil Report")
	}
	if !(alpha > 0 && alpha < 1) {
		return nil, ErrDiffAlpha
	}
	d := &Diff{Method: DiffMethod, Alpha: alpha, Rows: []DiffRow{},
		A: DiffRun{Label: la, Scenario: a.Scenario, Clock: a.Clock, Seed: a.Seed, Devices: a.Devices},
		B: DiffRun{Label: lb, Scenario: b.Scenario, Clock: b.Clock, Seed: b.Seed, Devices: b.Devices}}
	ga, order := diffGroups(a)
	gb, _ := diffGroups(b)
	for _, name := range order {
		x, okA := ga[name]
		y, okB := gb[name]
		if !okA || !okB {
			continue
		}
		var names []string
		for o := range x.outcomes {
			names = append(names, o)
		}
		for o := range y.outcomes {
			if _, ok := x.outcomes[o]; !ok {
				names = append(names, o)
			}
		}
		slices.SortFunc(names, compareOutcomes)
		for _, o := range names {
			ka, kb := min(x.outcomes[o], x.n), min(y.outcomes[o], y.n)
			row := DiffRow{Group: name, Outcome: o, A: ka, NA: x.n, B: kb, NB: y.n}
			row.Delta = float64(kb)/float64(y.n) - float64(ka)/float64(x.n)
			row.Lo, row.Hi = newcombe(ka, x.n, kb, y.n)
			row.P = fisher(ka, x.n, kb, y.n)
			d.Rows = append(d.Rows, row)
		}
	}
	d.Tests = len(d.Rows)
	holm(d.Rows)
	for i := range d.Rows {
		if d.Rows[i].PAdj < alpha {
			d.Rows[i].Flagged = true
			d.Flagged++
		}
	}
	return d, nil
}

// holm sets each row's PAdj: Holm's step-down adjustment of the P values,
// which keeps the family-wise error rate at the level whatever the
// dependence between the tests.
func holm(rows []DiffRow) {
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int { return cmp.Compare(rows[x].P, rows[y].P) })
	m := len(rows)
	run := 0.0
	for k, i := range idx {
		adj := min(1, float64(m-k)*rows[i].P)
		run = max(run, adj) // adjusted values never decrease along the order
		rows[i].PAdj = run
	}
}

// fisher is the two-sided p-value of Fisher's exact test of the 2×2 table
// (a of na, b of nb): the probability, under the hypergeometric law with
// the table's margins, of every table at most as likely as the one
// observed (with a relative tolerance of 1e-7 for ties).
func fisher(a, na, b, nb int) float64 {
	n, k := na+nb, a+b
	lo, hi := max(0, k-nb), min(k, na)
	lc := func(n, r int) float64 { return lgamma(n+1) - lgamma(r+1) - lgamma(n-r+1) }
	base := lc(n, k)
	logp := func(x int) float64 { return lc(na, x) + lc(nb, k-x) - base }
	obs := logp(a)
	p := 0.0
	for x := lo; x <= hi; x++ {
		if lp := logp(x); lp <= obs+1e-7 {
			p += math.Exp(lp)
		}
	}
	return min(p, 1)
}

func lgamma(x int) float64 {
	v, _ := math.Lgamma(float64(x))
	return v
}

// wilson is Wilson's 95 % score interval of the proportion k of n.
func wilson(k, n int) (lo, hi float64) {
	const z = 1.959963984540054
	p, fn := float64(k)/float64(n), float64(n)
	den := 1 + z*z/fn
	c := (p + z*z/(2*fn)) / den
	h := z / den * math.Sqrt(p*(1-p)/fn+z*z/(4*fn*fn))
	return max(0, c-h), min(1, c+h)
}

// newcombe is the 95 % interval of kb/nb − ka/na by Newcombe's hybrid
// score method (his method 10).
func newcombe(ka, na, kb, nb int) (lo, hi float64) {
	p1, p2 := float64(ka)/float64(na), float64(kb)/float64(nb)
	l1, u1 := wilson(ka, na)
	l2, u2 := wilson(kb, nb)
	d := p2 - p1
	return d - math.Sqrt((p2-l2)*(p2-l2)+(u1-p1)*(u1-p1)), d + math.Sqrt((u2-p2)*(u2-p2)+(p1-l1)*(p1-l1))
}

// share writes k of n as "94.6%".
func share(k, n int) string {
	if n <= 0 {
		return "—"
	}
	return strconv.FormatFloat(100*float64(k)/float64(n), 'f', 1, 64) + "%"
}

// points writes a difference of shares in percentage points: "+1.2 pp".
func points(x float64) string {
	s := strconv.FormatFloat(100*finite(x), 'f', 1, 64)
	if s == "-0.0" {
		s = "0.0"
	}
	if !math.Signbit(x) && s != "0.0" {
		s = "+" + s
	}
	return s + " pp"
}

// pvalue writes a p-value with two significant digits, "<1e-12" below.
func pvalue(p float64) string {
	switch {
	case p < 1e-12:
		return "<1e-12"
	case p >= 0.1:
		return strconv.FormatFloat(p, 'f', 2, 64)
	}
	return strconv.FormatFloat(p, 'g', 2, 64)
}
