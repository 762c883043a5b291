package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// JUnit XML, as CI systems read it (Jenkins, GitLab, GitHub Actions'
// reporters): one testsuite per report, one testcase per expectation, a
// failure for each that did not hold; an interrupted run adds an errored
// testcase, so that a CI job does not pass on what happened so far.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
}

type junitProblem struct {
	Type    string `xml:"type,attr"`
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes r's expectations as JUnit XML: a testsuite named after
// the scenario (properties: clock, seed, MTP, devices, outcome counts), a
// testcase per expectation (classname "brickyard.<scenario>", name the
// expression) with a failure when it did not hold, and, when the run was
// interrupted, a testcase "run completed" with an error. Times are the
// run's duration, in seconds. The output is a pure function of r.
func WriteJUnit(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("report: WriteJUnit of a nil Report")
	}
	name := xmlText(r.Scenario)
	if name == "" {
		name = "brickyard"
	}
	secs := strconv.FormatFloat(max(finite(float64(r.Duration)), 0), 'f', 3, 64)
	s := junitSuite{Name: name, Time: secs}
	if !r.Start.IsZero() && r.Start.Year() >= 0 && r.Start.Year() <= 9999 {
		s.Timestamp = r.Start.UTC().Format(time.RFC3339)
	}
	prop := func(k, v string) { s.Properties = append(s.Properties, junitProperty{Name: k, Value: xmlText(v)}) }
	prop("clock", r.Clock)
	prop("seed", strconv.FormatUint(r.Seed, 10))
	prop("mtp", r.MTP)
	prop("devices", strconv.Itoa(r.Devices))
	for _, c := range r.Outcomes {
		prop("outcome."+c.Name, strconv.Itoa(c.N))
	}
	if r.Aborted != "" {
		prop("aborted", r.Aborted)
	}
	class := "brickyard." + name
	for _, e := range r.Expectations {
		c := junitCase{Name: xmlText(e.Expr), Classname: class, Time: "0"}
		if !e.OK {
			msg := fmt.Sprintf("expected %s, was %s", xmlText(e.Expr), strconv.FormatFloat(finite(e.Value), 'g', 6, 64))
			c.Failure = &junitProblem{Type: "expectation", Message: msg, Text: msg}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	if r.Interrupted {
		msg := "the run was stopped before its campaign ended; the expectations were checked on what happened so far"
		s.Cases = append(s.Cases, junitCase{Name: "run completed", Classname: class, Time: secs,
			Error: &junitProblem{Type: "interrupted", Message: msg, Text: msg}})
		s.Errors++
	}
	s.Tests = len(s.Cases)
	all := junitSuites{Name: "brickyard", Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Time: secs, Suites: []junitSuite{s}}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return fmt.Errorf("report: encoding JUnit XML: %w", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// xmlText makes s valid XML 1.0 character data: invalid UTF-8 and the
// characters XML forbids become U+FFFD (encoding/xml escapes the rest).
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF) {
			return r
		}
		return '\uFFFD'
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
