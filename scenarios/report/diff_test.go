package report

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"
)

// Fisher's exact test against Fisher's tea-tasting table (3 of 4 against
// 1 of 4: p = 34/70) and against an exact computation in rationals
// (math/big) over a grid of tables.
func TestFisher(t *testing.T) {
	if got := fisher(3, 4, 1, 4); math.Abs(got-34.0/70) > 1e-12 {
		t.Errorf("tea tasting: %g, want 34/70", got)
	}
	exact := func(a, na, b, nb int) float64 {
		n, k := na+nb, a+b
		den := new(big.Int).Binomial(int64(n), int64(k))
		prob := func(x int) *big.Rat {
			num := new(big.Int).Mul(new(big.Int).Binomial(int64(na), int64(x)), new(big.Int).Binomial(int64(nb), int64(k-x)))
			return new(big.Rat).SetFrac(num, den)
		}
		obs := new(big.Rat).Mul(prob(a), big.NewRat(10_000_001, 10_000_000))
		sum := new(big.Rat)
		for x := max(0, k-nb); x <= min(k, na); x++ {
			if p := prob(x); p.Cmp(obs) <= 0 {
				sum.Add(sum, p)
			}
		}
		f, _ := sum.Float64()
		return min(f, 1)
	}
	for _, c := range [][4]int{{0, 10, 0, 10}, {10, 10, 0, 10}, {1, 100, 10, 100}, {32, 1000, 60, 1000}, {5, 7, 2, 9}, {264, 10000, 531, 10000}} {
		got, want := fisher(c[0], c[1], c[2], c[3]), exact(c[0], c[1], c[2], c[3])
		if math.Abs(got-want) > 1e-9*max(want, 1e-3) {
			t.Errorf("fisher(%d/%d, %d/%d) = %.12g, exact %.12g", c[0], c[1], c[2], c[3], got, want)
		}
		if back := fisher(c[2], c[3], c[0], c[1]); math.Abs(back-got) > 1e-12 {
			t.Errorf("fisher is not symmetric: %g, %g", got, back)
		}
	}
}

// Newcombe's worked example (Statistics in Medicine 17, 1998, table II:
// 56/70 against 48/80, method 10: 0.0524 to 0.3339).
func TestNewcombe(t *testing.T) {
	lo, hi := newcombe(48, 80, 56, 70)
	if math.Abs(lo-0.0524) > 5e-5 || math.Abs(hi-0.3339) > 5e-5 {
		t.Errorf("newcombe = %.4f … %.4f, want 0.0524 … 0.3339", lo, hi)
	}
	if lo, hi := newcombe(0, 10, 0, 10); lo > 0 || hi < 0 {
		t.Errorf("no difference: %g … %g must hold 0", lo, hi)
	}
}

// Holm's step-down adjustment: m·p for the smallest, (m−1)·p for the next,
// never decreasing, capped at 1.
func TestHolm(t *testing.T) {
	rows := []DiffRow{{P: 0.01}, {P: 0.04}, {P: 0.03}, {P: 0.005}, {P: 0.5}}
	holm(rows)
	want := []float64{0.04, 0.09, 0.09, 0.025, 0.5}
	for i, r := range rows {
		if math.Abs(r.PAdj-want[i]) > 1e-12 {
			t.Errorf("row %d: p %g adjusted %g, want %g", i, r.P, r.PAdj, want[i])
		}
	}
}

func diffReport(bricked int) *Report {
	r := &Report{Scenario: "s", Clock: "virtual", Seed: 1, Devices: 1000,
		Outcomes: OutcomeCounts(map[string]int{"updated": 1000 - bricked - 20, "bricked": bricked, "download_failed": 20}),
		ByBoard: []Group{{Name: "single-nor", Devices: 1000,
			Outcomes: OutcomeCounts(map[string]int{"updated": 1000 - bricked - 20, "bricked": bricked, "download_failed": 20})}}}
	return r
}

func TestCompare(t *testing.T) {
	same, err := Compare(diffReport(30), diffReport(30), "a", "b", 0.05)
	if err != nil {
		t.Fatal(err)
	}
	if same.Flagged != 0 || same.Tests != 6 {
		t.Errorf("identical runs: %d of %d flagged", same.Flagged, same.Tests)
	}
	d, err := Compare(diffReport(30), diffReport(150), "a", "b", 0.05)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range d.Rows {
		want := r.Outcome != "download_failed" // bricked rose, updated fell by as much
		if r.Flagged != want {
			t.Errorf("%s %s: flagged %v (p %g, adjusted %g)", r.Group, r.Outcome, r.Flagged, r.P, r.PAdj)
		}
		if r.Outcome == "bricked" && (r.Delta <= 0.1 || r.Lo <= 0 || r.Hi <= r.Delta) {
			t.Errorf("bricked: delta %g in %g … %g", r.Delta, r.Lo, r.Hi)
		}
	}
	for _, a := range []float64{0, 1, -1, math.NaN(), math.Inf(1)} {
		if _, err := Compare(diffReport(1), diffReport(1), "", "", a); err == nil {
			t.Errorf("alpha %g accepted", a)
		}
	}
	var text, js, page bytes.Buffer
	if err := WriteDiffText(&text, d, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "4 flagged") || strings.Contains(text.String(), "download_failed") {
		t.Errorf("text:\n%s", text.String())
	}
	if err := WriteDiffJSON(&js, d); err != nil {
		t.Fatal(err)
	}
	var back Diff
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Rows) != d.Tests || back.Method != DiffMethod {
		t.Errorf("json: %v, %d rows", err, len(back.Rows))
	}
	if err := WriteDiffHTML(&page, d); err != nil {
		t.Fatal(err)
	}
	checkHTML(t, page.Bytes())
	if strings.Count(page.String(), `<tr class="row flagged">`) != 4 {
		t.Errorf("html: %d flagged rows", strings.Count(page.String(), `<tr class="row flagged">`))
	}
}
