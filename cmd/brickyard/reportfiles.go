package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"brickyard/scenarios/report"
)

// reportMode is the mode of every report file brickyard writes: readable by
// all, as a CI job's artefacts must be.
const reportMode = 0o644

// writeReportFile writes dir/name atomically: to a temporary file in dir (so a
// reader never sees half a report), which then gets reportMode and the
// name.
func writeReportFile(dir, name string, fill func(io.Writer) error) error {
	tmp, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriter(tmp)
	if err := fill(bw); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(reportMode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}

// writeReports writes report.json and report.html into dir.
func writeReports(dir string, r *report.Report) error {
	if err := writeReportFile(dir, "report.json", func(w io.Writer) error { return report.WriteJSON(w, r) }); err != nil {
		return err
	}
	return writeReportFile(dir, "report.html", func(w io.Writer) error { return report.WriteHTML(w, r) })
}
