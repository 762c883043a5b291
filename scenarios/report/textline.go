package report

import (
	"strings"
	"unicode/utf8"
)

// LineWidth is the most columns a progress line takes: it fits a
// 100-column terminal.
const LineWidth = 100

// LinePart is one field of a progress line, with a shorter form (short, or
// the same text when empty); when the line is too long, the short forms
// are used, then the parts of the highest drop rank go first.
type LinePart struct {
	Drop  int // 0: never dropped
	Text  string
	Short string
}

// extraRank: parts of this drop rank or higher are extras, left out (in
// their full form, highest rank first) before the others are shortened.
const extraRank = 4

// FitLine joins parts with two spaces into a line of at most width
// columns: their full texts, leaving out the extras (drop rank ≥
// extraRank) from the highest rank down while it is too long; then the
// short forms of the rest, leaving out the parts of the highest ranks
// until it fits; a line still too long is cut, ending in "…".
func FitLine(parts []LinePart, width int) string {
	join := func(parts []LinePart, short bool) string {
		var b strings.Builder
		for _, p := range parts {
			t := p.Text
			if short && p.Short != "" {
				t = p.Short
			}
			if t == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("  ")
			}
			b.WriteString(t)
		}
		return b.String()
	}
	worst := func(parts []LinePart) int {
		w := 0
		for _, p := range parts {
			w = max(w, p.Drop)
		}
		return w
	}
	without := func(parts []LinePart, rank int) []LinePart {
		kept := parts[:0:0]
		for _, p := range parts {
			if p.Drop != rank {
				kept = append(kept, p)
			}
		}
		return kept
	}
	for {
		if s := join(parts, false); utf8.RuneCountInString(s) <= width {
			return s
		}
		if w := worst(parts); w >= extraRank {
			parts = without(parts, w)
			continue
		}
		break
	}
	for {
		s := join(parts, true)
		if utf8.RuneCountInString(s) <= width {
			return s
		}
		w := worst(parts)
		if w == 0 {
			r := []rune(s)
			return string(r[:width-1]) + "…"
		}
		parts = without(parts, w)
	}
}
