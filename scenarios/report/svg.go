package report

import (
	"html/template"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the SVG building blocks of report.html. Every number is
// written by f1 (one decimal, never NaN or Inf) and every text by esc, so
// the charts are deterministic and each <svg> is well-formed XML.

// f1 formats x with one decimal; NaN and ±Inf are written as 0 and -0.0
// as 0.0.
func f1(x float64) string {
	s := strconv.FormatFloat(finite(x), 'f', 1, 64)
	if s == "-0.0" {
		return "0.0"
	}
	return s
}

// esc makes s safe as XML and HTML text or attribute value: invalid UTF-8
// and characters XML 1.0 forbids become U+FFFD, then the HTML specials are
// escaped.
func esc(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF) {
			return r
		}
		return '\uFFFD'
	}, s)
	return template.HTMLEscapeString(s)
}

// truncate shortens s to at most n runes, ending in "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n < 1 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// textWidth estimates the width in pixels of s at the charts' 11 px font.
func textWidth(s string) float64 { return 6.6 * float64(utf8.RuneCountInString(s)) }

// svg accumulates one <svg> element.
type svg struct{ b strings.Builder }

func newSVG(w, h float64, label string) *svg {
	s := &svg{}
	s.b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 `)
	s.b.WriteString(f1(w) + " " + f1(h) + `" width="` + f1(w) + `" height="` + f1(h))
	s.b.WriteString(`" font-family="sans-serif" font-size="11" role="img" aria-label="` + esc(label) + `">`)
	s.b.WriteString("<title>" + esc(label) + "</title>")
	return s
}

// rect draws a filled rectangle with an optional tooltip.
func (s *svg) rect(x, y, w, h float64, fill, stroke, title string) {
	s.b.WriteString(`<rect x="` + f1(x) + `" y="` + f1(y) + `" width="` + f1(max(w, 0)) + `" height="` + f1(max(h, 0)) + `" fill="` + fill + `"`)
	if stroke != "" {
		s.b.WriteString(` stroke="` + stroke + `"`)
	}
	if title == "" {
		s.b.WriteString("/>")
		return
	}
	s.b.WriteString("><title>" + esc(title) + "</title></rect>")
}

// line draws a 1 px line; dash is a stroke-dasharray or "".
func (s *svg) line(x1, y1, x2, y2 float64, stroke, dash string) {
	s.b.WriteString(`<line x1="` + f1(x1) + `" y1="` + f1(y1) + `" x2="` + f1(x2) + `" y2="` + f1(y2) + `" stroke="` + stroke + `"`)
	if dash != "" {
		s.b.WriteString(` stroke-dasharray="` + dash + `"`)
	}
	s.b.WriteString("/>")
}

// text writes a label; anchor is "start", "middle" or "end".
func (s *svg) text(x, y float64, anchor, fill, str string) {
	s.b.WriteString(`<text x="` + f1(x) + `" y="` + f1(y) + `"`)
	if anchor != "start" {
		s.b.WriteString(` text-anchor="` + anchor + `"`)
	}
	if fill != "" {
		s.b.WriteString(` fill="` + fill + `"`)
	}
	s.b.WriteString(">" + esc(str) + "</text>")
}

// path draws a filled path with a tooltip.
func (s *svg) path(d, fill, title string) {
	s.b.WriteString(`<path d="` + d + `" fill="` + fill + `"><title>` + esc(title) + "</title></path>")
}

// html closes the element and returns it for the page template.
func (s *svg) html() template.HTML {
	s.b.WriteString("</svg>")
	return template.HTML(s.b.String()) // every text went through esc
}

// niceStep is a 1, 2 or 5 × 10^k step giving about target ticks over span.
func niceStep(span float64, target int) float64 {
	if !(span > 0) || math.IsInf(span, 0) || target < 1 {
		return 1
	}
	raw := span / float64(target)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	if mag == 0 || math.IsInf(mag, 0) || math.IsNaN(mag) {
		return 1
	}
	switch norm := raw / mag; {
	case norm <= 1:
		return mag
	case norm <= 2:
		return 2 * mag
	case norm <= 5:
		return 5 * mag
	default:
		return 10 * mag
	}
}

// ticks returns the multiples of step in [lo, hi] (at most 101 of them).
func ticks(lo, hi, step float64) []float64 {
	if !(hi >= lo) || !(step > 0) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	k0, k1 := math.Ceil(lo/step), math.Floor(hi/step)
	if !(k1-k0 <= 100) {
		return []float64{lo, hi}
	}
	var out []float64
	for i := 0; i <= int(k1-k0); i++ {
		out = append(out, (k0+float64(i))*step)
	}
	return out
}

// tickLabel writes v with the decimals step needs.
func tickLabel(v, step float64) string {
	dec := 0
	if step > 0 && step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	if math.Abs(v) >= 1e9 {
		return strconv.FormatFloat(finite(v), 'g', 4, 64)
	}
	s := strconv.FormatFloat(finite(v), 'f', min(dec, 9), 64)
	if strings.TrimLeft(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// legendItem is one entry of a chart legend.
type legendItem struct {
	label string
	fill  string
}

// legendHeight is the height legend rows of items need within width w.
func legendHeight(items []legendItem, w float64) float64 {
	_, rows := legendLayout(items, 0, 0, w)
	return float64(rows) * 18
}

// legendLayout places items left to right, wrapping at width w; it returns
// each item's top-left corner and the number of rows.
func legendLayout(items []legendItem, x0, y0, w float64) ([][2]float64, int) {
	pos := make([][2]float64, len(items))
	x, y, rows := x0, y0, 0
	if len(items) > 0 {
		rows = 1
	}
	for i, it := range items {
		iw := 14 + textWidth(it.label) + 16
		if x > x0 && x+iw > x0+w {
			x, y = x0, y+18
			rows++
		}
		pos[i] = [2]float64{x, y}
		x += iw
	}
	return pos, rows
}

// legend draws items at (x0, y0) within width w.
func (s *svg) legend(items []legendItem, x0, y0, w float64) {
	pos, _ := legendLayout(items, x0, y0, w)
	for i, it := range items {
		s.rect(pos[i][0], pos[i][1]+2, 10, 10, it.fill, "", "")
		s.text(pos[i][0]+14, pos[i][1]+11, "start", "", it.label)
	}
}
