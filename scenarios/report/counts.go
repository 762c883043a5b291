package report

import (
	"cmp"
	"slices"
)

// OutcomeCounts turns per-outcome counts into the list Report.Outcomes,
// Group.Outcomes, Wave.Outcomes and Sample.Outcomes hold: one Count per
// entry of Outcomes, in that order, zero counts included, then any other
// names found in m (outcomes this package does not know) sorted by name
// (byte order). The result never is nil and depends only on m's contents.
func OutcomeCounts(m map[string]int) []Count {
	out := make([]Count, 0, len(Outcomes)+len(m))
	for _, o := range Outcomes {
		out = append(out, Count{Name: o, N: m[o]})
	}
	var extra []Count
	for name, n := range m {
		if !isOutcome(name) {
			extra = append(extra, Count{Name: name, N: n})
		}
	}
	slices.SortFunc(extra, byName)
	return append(out, extra...)
}

// SortedCounts turns named counts into a list sorted by name (byte order),
// as Report.Messages and Report.Errors hold them; zero counts in m are
// kept. The result never is nil and depends only on m's contents.
func SortedCounts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for name, n := range m {
		out = append(out, Count{Name: name, N: n})
	}
	slices.SortFunc(out, byName)
	return out
}

func byName(a, b Count) int { return cmp.Compare(a.Name, b.Name) }

// isOutcome reports whether name is one of Outcomes.
func isOutcome(name string) bool { return slices.Contains(Outcomes, name) }

// outcomeRank orders outcome names: the Outcomes order first, then others.
func outcomeRank(name string) int {
	if i := slices.Index(Outcomes, name); i >= 0 {
		return i
	}
	return len(Outcomes)
}

// countOf is the N of the first Count named name in cs, or 0.
func countOf(cs []Count, name string) int {
	for _, c := range cs {
		if c.Name == name {
			return c.N
		}
	}
	return 0
}
