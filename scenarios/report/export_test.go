package report

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// xmllint is libxml2's validator (Debian's libxml2-utils; .ci/install-deps
// installs it).
func xmllint(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint is not installed (Debian package libxml2-utils; .ci/install-deps installs it)")
	}
	return p
}

// The JUnit export is valid against the schema the Jenkins xUnit plugin
// validates JUnit reports with (testdata/junit-10.xsd, its source in its
// head), checked by libxml2; and it says what the report says.
func TestJUnitAgainstSchema(t *testing.T) {
	lint := xmllint(t)
	interrupted := sampleReport()
	interrupted.Interrupted = true
	none := sampleReport()
	none.Expectations = nil
	cases := map[string]*Report{"sample": sampleReport(), "interrupted": interrupted, "no expectations": none, "hostile": hostileReport()}
	for name, r := range cases {
		var b bytes.Buffer
		if err := WriteJUnit(&b, r); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "junit.xml")
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(lint, "--noout", "--schema", "testdata/junit-10.xsd", path).CombinedOutput()
		if err != nil {
			t.Errorf("%s: xmllint: %v\n%s\n%s", name, err, out, b.String())
			continue
		}
		var got junitSuites
		if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s := got.Suites[0]
		failed := 0
		for _, e := range r.Expectations {
			if !e.OK {
				failed++
			}
		}
		errs := 0
		if r.Interrupted {
			errs = 1
		}
		if s.Tests != len(r.Expectations)+errs || s.Failures != failed || s.Errors != errs || got.Tests != s.Tests {
			t.Errorf("%s: tests %d failures %d errors %d, want %d, %d, %d", name, s.Tests, s.Failures, s.Errors, len(r.Expectations)+errs, failed, errs)
		}
		for i, e := range r.Expectations {
			if c := s.Cases[i]; (c.Failure == nil) != e.OK || c.Name != xmlText(e.Expr) {
				t.Errorf("%s: case %d %+v for %+v", name, i, c, e)
			}
		}
	}
	// The schema is not a formality: it refuses a testsuite without its
	// required attributes.
	bad := filepath.Join(t.TempDir(), "bad.xml")
	os.WriteFile(bad, []byte(`<testsuites><testsuite name="x"><testcase name="y"/></testsuite></testsuites>`), 0o644)
	if out, err := exec.Command(lint, "--noout", "--schema", "testdata/junit-10.xsd", bad).CombinedOutput(); err == nil {
		t.Errorf("xmllint accepted a testsuite without tests, failures and errors:\n%s", out)
	}
}

// The CSV export reads back with encoding/csv: a header, one row per
// device, in fleet order, each field what the report holds.
func TestCSV(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	if err := WriteCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(r.Fleet)+1 || strings.Join(rows[0], ",") != strings.Join(CSVColumns, ",") {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	col := func(name string) int {
		for i, c := range CSVColumns {
			if c == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	for i, d := range r.Fleet {
		row := rows[i+1]
		if row[col("id")] != d.ID || row[col("outcome")] != d.Outcome || row[col("board")] != d.Board ||
			row[col("cuts")] != strconv.Itoa(len(d.Cuts)) || row[col("brick")] != d.Brick || row[col("steps")] != strconv.Itoa(len(d.Timeline)) {
			t.Errorf("row %d: %v for %+v", i, row, d)
		}
		if len(d.Cuts) > 0 && row[col("last_cut_partition")] != d.Cuts[len(d.Cuts)-1].Partition {
			t.Errorf("row %d: last cut %v", i, row)
		}
	}
	var h bytes.Buffer
	if err := WriteCSV(&h, hostileReport()); err != nil {
		t.Fatal(err)
	}
	if _, err := csv.NewReader(&h).ReadAll(); err != nil {
		t.Errorf("hostile report: %v", err)
	}
}
