package scenarios

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"brickyard/scenarios/report"
)

// An expectation is "NAME OP VALUE": NAME an outcome (updated, rolled_back,
// bricked, download_failed, install_failed, unreachable, pending, aborted)
// or latency.p50, latency.p90, latency.p99, latency.max (seconds); OP one
// of == != < <= > >=; VALUE a number. For outcomes, a VALUE written with a
// decimal point or a % sign is a share of the fleet (updated >= 0.99,
// updated >= 99%); an integer is a count of devices (bricked == 0).
type expectation struct {
	text  string
	name  string
	op    string
	value float64
	share bool
}

var expectOps = []string{"==", "!=", "<=", ">=", "<", ">"}

func parseExpectation(s string) (expectation, error) {
	x := expectation{text: strings.TrimSpace(s)}
	for _, op := range expectOps {
		if i := strings.Index(x.text, op); i > 0 {
			x.name, x.op = strings.TrimSpace(x.text[:i]), op
			v := strings.TrimSpace(x.text[i+len(op):])
			if p, ok := strings.CutSuffix(v, "%"); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
				if err != nil {
					return x, fmt.Errorf("%q: bad percentage %q", s, v)
				}
				x.value, x.share = f/100, true
			} else {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return x, fmt.Errorf("%q: bad number %q", s, v)
				}
				x.value, x.share = f, strings.ContainsAny(v, ".eE")
			}
			break
		}
	}
	if x.op == "" {
		return x, fmt.Errorf("%q: want NAME OP VALUE, OP one of %s", s, strings.Join(expectOps, " "))
	}
	if math.IsNaN(x.value) || math.IsInf(x.value, 0) {
		return x, fmt.Errorf("%q: %v is not a number an outcome or a latency can be compared with", s, x.value)
	}
	switch {
	case slices.Contains(report.Outcomes, x.name):
		if x.share && !(x.value >= 0 && x.value <= 1) {
			return x, fmt.Errorf("%q: a share of the fleet is from 0 to 1 (0%% to 100%%), not %v", s, x.value)
		}
	case strings.HasPrefix(x.name, "latency."):
		switch strings.TrimPrefix(x.name, "latency.") {
		case "p50", "p90", "p99", "max":
		default:
			return x, fmt.Errorf("%q: latency.p50, latency.p90, latency.p99 or latency.max", s)
		}
		x.share = false
	default:
		return x, fmt.Errorf("%q: unknown name %q (want an outcome: %s; or latency.p50|p90|p99|max)", s, x.name, strings.Join(report.Outcomes, ", "))
	}
	return x, nil
}

// check evaluates x against r.
func (x expectation) check(r *report.Report) report.Expectation {
	var v float64
	switch x.name {
	case "latency.p50":
		v = float64(r.Latency.P50)
	case "latency.p90":
		v = float64(r.Latency.P90)
	case "latency.p99":
		v = float64(r.Latency.P99)
	case "latency.max":
		v = float64(r.Latency.Max)
	default:
		for _, c := range r.Outcomes {
			if c.Name == x.name {
				v = float64(c.N)
			}
		}
		if x.share && r.Devices > 0 {
			v /= float64(r.Devices)
		}
	}
	ok := false
	switch x.op {
	case "==":
		ok = v == x.value
	case "!=":
		ok = v != x.value
	case "<":
		ok = v < x.value
	case "<=":
		ok = v <= x.value
	case ">":
		ok = v > x.value
	case ">=":
		ok = v >= x.value
	}
	return report.Expectation{Expr: x.text, Value: v, OK: ok}
}
