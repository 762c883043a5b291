package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"brickyard/scenarios/report"
	"brickyard/scenarios/report/reporttest"
)

// diffScenario is a small virtual study; {share} is the single-bank
// board's share of install cuts, {seed} the seed.
const diffScenario = `name: diff-study
clock: virtual
seed: {seed}
fleet:
  connect_rate: 200
  boards:
    - profile: uboot-nor
      count: 300
    - profile: single-nor
      count: 300
device: {reboot: 5s, trial: 30s}
images:
  - version: 2.0.0
    payload: 8KiB
campaign:
  image: 2.0.0
  deadline: 5m
  waves:
    - share: rest
faults:
  - kind: power-during-install
    share: {share}
    board: single-nor
    torn: true
  - kind: download-truncated
    share: 0.05
expect:
  - updated >= 0.8
  - bricked <= 1%
`

// runStudy runs diffScenario and returns its --out folder.
func runStudy(t *testing.T, seed, share string) string {
	t.Helper()
	src := strings.NewReplacer("{seed}", seed, "{share}", share).Replace(diffScenario)
	dir := t.TempDir()
	if out, errOut, code := runBrickyard(t, nil, "run", writeScenario(t, src), "--quiet", "--out", dir); code != 0 && code != ExitExpectations {
		t.Fatalf("run: code %d: %s\n%s", code, errOut, out)
	}
	return dir
}

func diffJSON(t *testing.T, a, b string) (*report.Diff, int) {
	t.Helper()
	out, errOut, code := runBrickyard(t, nil, "report", "diff", a, b, "--format", "json")
	var d report.Diff
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("diff: code %d, %v\n%s\n%s", code, err, out, errOut)
	}
	return &d, code
}

// report diff on seeded runs: a known difference (the single-bank board's
// install cuts raised from 2 % to 20 %) is flagged where it acts — the
// single-nor board and the fleet, bricked up and updated down — and
// nowhere else; two identical runs, and two runs that differ only by their
// seed, flag nothing.
func TestReportDiff(t *testing.T) {
	base := runStudy(t, "1", "0.02")
	again := runStudy(t, "1", "0.02")
	reseeded := runStudy(t, "2", "0.02")
	worse := runStudy(t, "1", "0.2")

	d, code := diffJSON(t, base, worse)
	if code != ExitDifferent || d.Flagged == 0 {
		t.Fatalf("known difference: code %d, %d flagged", code, d.Flagged)
	}
	flagged := map[string]bool{}
	for _, r := range d.Rows {
		if r.Flagged {
			flagged[r.Group+" "+r.Outcome] = true
			if !strings.HasPrefix(r.Group, "fleet") && !strings.HasSuffix(r.Group, "single-nor") {
				t.Errorf("flagged where nothing changed: %+v", r)
			}
		}
	}
	for _, want := range []string{"fleet bricked", "board single-nor bricked", "board single-nor updated"} {
		if !flagged[want] {
			t.Errorf("%q not flagged; flagged: %v", want, flagged)
		}
	}
	for name, dir := range map[string]string{"the same run": base, "the same seed again": again, "another seed": reseeded} {
		d, code := diffJSON(t, base, dir)
		if code != 0 || d.Flagged != 0 || d.Tests == 0 {
			t.Errorf("%s: code %d, %d of %d flagged", name, code, d.Flagged, d.Tests)
		}
	}

	// Text and HTML, to files of mode 0644.
	out := filepath.Join(t.TempDir(), "diff.html")
	if _, errOut, code := runBrickyard(t, nil, "report", "diff", base, worse, "--format", "html", "-o", out); code != ExitDifferent {
		t.Fatalf("html: code %d: %s", code, errOut)
	}
	checkMode(t, out)
	text, _, _ := runBrickyard(t, nil, "report", "diff", base, worse)
	if !strings.Contains(text, "Fisher's exact test") || !strings.Contains(text, "board single-nor") || !strings.Contains(text, "flagged (*)") {
		t.Errorf("text:\n%s", text)
	}
	for _, bad := range [][]string{{"report", "diff", base}, {"report", "diff", base, "/nonexistent"}, {"report", "diff", base, worse, "--alpha", "2"},
		{"report", "diff", base, worse, "--format", "xml"}} {
		if _, errOut, code := runBrickyard(t, nil, bad...); code != 1 || errOut == "" {
			t.Errorf("%q: code %d, stderr %q", bad, code, errOut)
		}
	}
}

func checkMode(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("%s: mode %v, want 0644", path, st.Mode().Perm())
	}
}

// The exports of a real run: JUnit XML that the Jenkins xUnit schema
// accepts (xmllint), with the failing expectation as a failure; CSV with a
// row per device; report.json and report.html written 0644.
func TestReportExports(t *testing.T) {
	dir := runStudy(t, "1", "0.2") // bricked > 1 %: an expectation fails
	checkMode(t, filepath.Join(dir, "report.json"))
	checkMode(t, filepath.Join(dir, "report.html"))
	junit := filepath.Join(t.TempDir(), "junit.xml")
	if _, errOut, code := runBrickyard(t, nil, "report", "junit", dir, "-o", junit); code != 0 {
		t.Fatalf("junit: code %d: %s", code, errOut)
	}
	checkMode(t, junit)
	lint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint is not installed (Debian package libxml2-utils; .ci/install-deps installs it)")
	}
	if out, err := exec.Command(lint, "--noout", "--schema", "../../scenarios/report/testdata/junit-10.xsd", junit).CombinedOutput(); err != nil {
		t.Fatalf("xmllint: %v\n%s", err, out)
	}
	x, _ := os.ReadFile(junit)
	if !strings.Contains(string(x), `tests="2" failures="1"`) || !strings.Contains(string(x), `<failure type="expectation" message="expected bricked &lt;= 1%, was`) {
		t.Errorf("junit:\n%s", x)
	}
	out, errOut, code := runBrickyard(t, nil, "report", "csv", filepath.Join(dir, "report.json"))
	if code != 0 {
		t.Fatalf("csv: code %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 601 {
		t.Fatalf("csv: %v, %d rows", err, len(rows))
	}
	bricked := 0
	for _, r := range rows[1:] {
		if r[3] == "bricked" {
			bricked++
			if r[0] == "" || r[1] != "single-nor" || r[10] != "install" || r[13] != "app" || r[14] == "" {
				t.Errorf("bricked row %v: want the install cut in app and the reason", r)
			}
		}
	}
	if bricked == 0 {
		t.Error("no bricked device in the CSV")
	}
	if _, errOut, code := runBrickyard(t, nil, "report", "junit", filepath.Join(t.TempDir(), "none.json")); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing report: code %d, %q", code, errOut)
	}
}

// studyScenario has every section of a report: waves, a bad image that
// rolls back and aborts the campaign, power cuts in every phase, health
// and download faults, a bricking board, the controller's view.
const studyScenario = `name: html-study
clock: virtual
seed: 3
fleet:
  connect_rate: 100
  boards:
    - profile: uboot-nor
      count: 120
    - profile: mcuboot-nrf52
      count: 120
    - profile: esp32-ota
      count: 120
    - profile: single-nor
      count: 120
device: {reboot: 5s, trial: 30s}
images:
  - version: 2.0.0
    payload: 8KiB
  - version: 2.1.0
    payload: 8KiB
    bad: true
campaign:
  image: 2.0.0
  deadline: 5m
  abort: {failure_rate: 0.5, min_devices: 5}
  waves:
    - name: canary
      share: 10%
    - name: main
      share: 50%
    - name: bad canary
      share: 10%
      image: 2.1.0
    - name: bad rest
      share: rest
      image: 2.1.0
faults:
  - kind: power-during-install
    share: 0.1
    torn: true
  - kind: power-during-trial
    share: 0.05
  - kind: power-at-uptime
    share: 0.05
    after: 1m
    within: 10m
  - kind: health-fail
    share: 0.05
  - kind: download-truncated
    share: 0.03
  - kind: net-drop
    share: 0.1
    drop: 0.2
    duration: 2m
`

// The report.html of a real run, in headless Chromium: it loads alone,
// nothing sticks out at 1280 or at 760 pixels, every section renders, the
// charts have a size, and the fleet filter works.
func TestRunReportInChromium(t *testing.T) {
	dir := t.TempDir()
	if out, errOut, code := runBrickyard(t, nil, "run", writeScenario(t, studyScenario), "--quiet", "--out", dir); code != 0 {
		t.Fatalf("run: code %d: %s\n%s", code, errOut, out)
	}
	r, _, err := readReportFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := r.Analysis
	if a == nil || len(a.Faults) == 0 || len(a.CutPhases) < 3 || a.Seen == nil || len(a.Durations) == 0 || len(a.Bricked) == 0 || r.Aborted == "" {
		t.Fatalf("the study lacks a section: aborted %q, analysis %+v", r.Aborted, a)
	}
	// The embedded controller concludes what USP allows of every device,
	// through power cuts, dropped Records and devices away when their
	// wave opens.
	if a.Seen.Disagree != 0 {
		t.Errorf("the controller's conclusion disagrees with %d devices' outcomes: %+v", a.Seen.Disagree, a.Seen.Devices)
	}
	for _, width := range []int{1280, 760} {
		ctx := reporttest.Browser(t, width, 900)
		reporttest.Check(t, ctx, fmt.Sprintf("run report at %d px", width), filepath.Join(dir, "report.html"), width < 1000, 10)
	}
}
