// Package reporttest checks report.html in a real browser: Debian's
// headless Chromium, driven over the DevTools protocol (chromedp). Tests of
// the packages that write reports use it; it is not part of brickyard.
package reporttest

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium is Debian's headless browser (.ci/install-deps installs it).
func chromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed (Debian package chromium; .ci/install-deps installs it)")
	}
	return p
}

// Browser starts headless Chromium with the flags this machine needs (no
// sandbox as root, no GPU, no background networking: the network is
// closed) and a fresh profile; the test's cleanup stops it.
func Browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-extensions", true),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	// The first call starts the browser, which lives as long as ctx: no
	// timeout on it (each step below has its own).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// step bounds one browser step: a step that hangs is a failure, not a
// hung test.
func step(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 60*time.Second)
}

// Watch records what the page in ctx requests and the errors and
// exceptions its console reports, from now until the returned function is
// called, which returns them.
func Watch(t *testing.T, ctx context.Context) func() (requests, problems []string) {
	t.Helper()
	var mu sync.Mutex
	var requests, problems []string
	lctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	if err := chromedp.Listen(lctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, e.Request.URL)
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if x := e.ExceptionDetails.Exception; x != nil {
				msg += " " + x.Description
			}
			problems = append(problems, msg)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				problems = append(problems, fmt.Sprint(e.Args))
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	return func() ([]string, []string) {
		cancel() // no more events: the slices are ours
		mu.Lock()
		defer mu.Unlock()
		return requests, problems
	}
}

// Step bounds one browser step: a step that hangs is a failure, not a
// hung test.
func Step(ctx context.Context) (context.Context, context.CancelFunc) { return step(ctx) }

// PageFacts is what the page script reads off the rendered report.
type PageFacts struct {
	ScrollWidth, ClientWidth int
	Overflow                 []string // elements wider than the page body, or than their scroll box
	Sections                 map[string]SectionFacts
	SVGs, EmptySVGs          int
	FleetRows, VisibleRows   int
}

// SectionFacts is one section: its height and how many elements it holds.
type SectionFacts struct {
	Height   float64 // from the heading to the next heading
	Children int     // elements between the two
}

// factsJS measures the page: the document's widths, every table, SVG and
// scroll box that sticks out of the body's content box (or out of its own
// scroll box, which would hide it behind a scroll bar), each section's
// extent, and the fleet table's rows and how many are shown.
const factsJS = `(() => {
  for (const d of document.querySelectorAll('details')) d.open = true; // folded tables are measured too
  const body = document.body.getBoundingClientRect();
  const pad = parseFloat(getComputedStyle(document.body).paddingRight) || 0;
  const right = body.right - pad + 0.5;
  const out = [];
  const section = el => {
    let h = null;
    for (const x of document.querySelectorAll('h2[id], h3')) {
      if (x.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) h = x; else break;
    }
    return h ? (h.id || h.textContent) : 'top';
  };
  const name = el => el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined && el.className ? '.' + el.className : '') + ' in ' + section(el);
  for (const el of document.querySelectorAll('table, svg.chart, .scroll, p, dl, nav, .filter')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue; // folded away
    if (r.right > right && !(el.parentElement.closest('.scroll')))
      out.push(name(el) + ' ends at ' + r.right.toFixed(0) + ' > ' + right.toFixed(0));
    if (el.classList && el.classList.contains('scroll') && el.scrollWidth > el.clientWidth + 1)
      out.push(name(el) + ' scrolls: ' + el.scrollWidth + ' > ' + el.clientWidth);
  }
  const sections = {};
  const hs = [...document.querySelectorAll('h2[id]')];
  hs.forEach((h, i) => {
    let n = 0, el = h.nextElementSibling;
    while (el && el.tagName !== 'H2') { n++; el = el.nextElementSibling; }
    const top = h.getBoundingClientRect().top;
    const bottom = el ? el.getBoundingClientRect().top : document.body.getBoundingClientRect().bottom;
    sections[h.id] = {Height: bottom - top, Children: n};
  });
  const svgs = [...document.querySelectorAll('svg.chart')];
  const rows = [...document.querySelectorAll('tr.dev')];
  return {
    ScrollWidth: document.documentElement.scrollWidth, ClientWidth: document.documentElement.clientWidth,
    Overflow: out, Sections: sections,
    SVGs: svgs.length, EmptySVGs: svgs.filter(s => { const r = s.getBoundingClientRect(); return !(r.width > 100 && r.height > 40) || s.childElementCount < 3; }).length,
    FleetRows: rows.length, VisibleRows: rows.filter(r => r.getClientRects().length > 0).length,
  };
})()`

// WantSections are the report's sections, by heading id; each must render
// with content.
var WantSections = []string{"expectations", "outcomes", "rollout", "boards", "waves", "faults", "seen", "durations",
	"latency", "bricked", "messages", "errors", "images", "fleet"}

// Check opens the report.html at path in the browser ctx (Browser) and
// checks it: it loads from the one file, with no request elsewhere and no
// console error; nothing sticks out of the page (every table, chart and
// paragraph within the body; a wide table may scroll in its box only when
// narrow is set, a window too narrow for it); every section of
// WantSections renders with content; at least minCharts charts, none
// empty; and the fleet table's outcome filter (CSS only) shows exactly the
// rows of the outcome picked. It returns the facts it read.
func Check(t *testing.T, ctx context.Context, label, path string, narrow bool, minCharts int) PageFacts {
	t.Helper()
	facts, requests, problems := load(t, ctx, "file://"+path)
	for _, u := range requests {
		if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
			t.Errorf("%s: the page requested %s", label, u)
		}
	}
	for _, p := range problems {
		t.Errorf("%s: console: %s", label, p)
	}
	if facts.ScrollWidth > facts.ClientWidth {
		t.Errorf("%s: the page scrolls sideways: %d > %d", label, facts.ScrollWidth, facts.ClientWidth)
	}
	for _, o := range facts.Overflow {
		if !narrow || !strings.Contains(o, "scrolls:") {
			t.Errorf("%s: overflow: %s", label, o)
		}
	}
	for _, id := range WantSections {
		s, ok := facts.Sections[id]
		if !ok || s.Children == 0 || s.Height < 30 {
			t.Errorf("%s: section %q did not render (%+v, found %v)", label, id, s, ok)
		}
	}
	if facts.SVGs < minCharts || facts.EmptySVGs > 0 {
		t.Errorf("%s: %d charts (want at least %d), %d of them empty", label, facts.SVGs, minCharts, facts.EmptySVGs)
	}
	checkFilter(t, ctx, label, facts)
	return facts
}

// load opens url and returns the page's facts, every URL it requested and
// its console errors and exceptions.
func load(t *testing.T, ctx context.Context, url string) (PageFacts, []string, []string) {
	t.Helper()
	seen := Watch(t, ctx)
	sctx, done := step(ctx)
	defer done()
	if err := chromedp.Do(sctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	raw, err := chromedp.Run(sctx, chromedp.Evaluate[[]byte](factsJS))
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	requests, problems := seen()
	var f PageFacts
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: facts %s: %v", url, raw, err)
	}
	return f, requests, problems
}

// checkFilter opens the fleet list, picks each outcome's filter button in
// turn and counts the rows shown, then picks "all" again.
func checkFilter(t *testing.T, ctx context.Context, label string, f PageFacts) {
	t.Helper()
	sctx, done := step(ctx)
	defer done()
	if err := chromedp.Do(sctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('#fleet ~ details').open = true`)); err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	listed, err := chromedp.Run(sctx, chromedp.Evaluate[map[string]int](`(() => { const m = {}; for (const tr of document.querySelectorAll('tr.dev')) { const o = tr.children[3].textContent; m[o] = (m[o]||0)+1; } return m; })()`))
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	if f.FleetRows == 0 || len(listed) < 2 {
		t.Fatalf("%s: the fleet table lists %d rows of %d outcomes", label, f.FleetRows, len(listed))
	}
	labels, err := chromedp.Run(sctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.filter label')].map(l => l.htmlFor + '=' + l.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range append(labels[1:], labels[0]) { // "all" last: after a narrowed view
		id, outcome, _ := strings.Cut(l, "=")
		if err := chromedp.Do(sctx, chromedp.Click(chromedp.CSS(`label[for="`+id+`"]`))); err != nil {
			t.Fatalf("%s: filter %s: %v", label, id, err)
		}
		shown, err := chromedp.Run(sctx, chromedp.Evaluate[int](`[...document.querySelectorAll('tr.dev')].filter(r => r.getClientRects().length > 0).length`))
		if err != nil {
			t.Fatalf("%s: filter %s: %v", label, id, err)
		}
		want := listed[outcome]
		if id == "ff-all" {
			want = f.FleetRows
		}
		if shown != want {
			t.Errorf("%s: filter %q shows %d rows, want %d", label, outcome, shown, want)
		}
	}
}
