package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"brickyard/scenarios/report"
)

// maxReportFile bounds a report.json that `brickyard report` reads: a
// 100,000-device report is about 50 MB.
const maxReportFile = 2 << 30

// ExitDifferent is the exit status of `brickyard report diff` when a
// difference is flagged.
const ExitDifferent = 3

func newReportCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Compare runs and export a run's report for CI systems and spreadsheets",
		Long: "report works on the report.json that 'brickyard run --out' and 'brickyard fleet --out'\n" +
			"write (a REPORT argument is that file, or the folder holding it):\n\n" +
			"  diff A B    compare two runs: outcome shares per board, fault and power-cut phase,\n" +
			"              with a test of whether each difference is beyond chance\n" +
			"  junit R     the run's expectations as JUnit XML, for CI systems\n" +
			"  csv R       one row per device, for spreadsheets",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newReportDiffCmd(), newReportJUnitCmd(), newReportCSVCmd())
	return cmd
}

func newReportDiffCmd() *cobra.Command {
	var (
		format, out string
		alpha       float64
		all         bool
	)
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare two runs, flagging the differences beyond what chance explains",
		Long: "diff compares run A with run B: for the fleet, each board, each fault kind on each\n" +
			"board and each power-cut phase on each board, the share of devices in every outcome,\n" +
			"the difference B − A with its 95% confidence interval (Newcombe's hybrid score\n" +
			"interval), and Fisher's exact test of it, two-sided, the p-values adjusted by\n" +
			"Holm's method over every comparison: a difference is flagged when the adjusted p is\n" +
			"below --alpha, so that two runs that differ only by chance (their seeds) are\n" +
			"flagged at most that often. The text lists the flagged rows (--all: every row);\n" +
			"json and html hold every row. The exit status is 3 when a difference is flagged.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" && format != "html" {
				return fmt.Errorf("--format %q: want text, json or html", format)
			}
			ra, pa, err := readReportFile(args[0])
			if err != nil {
				return err
			}
			rb, pb, err := readReportFile(args[1])
			if err != nil {
				return err
			}
			d, err := report.Compare(ra, rb, pa, pb, alpha)
			if err != nil {
				return fmt.Errorf("--alpha: %w", err)
			}
			write := func(w io.Writer) error {
				switch format {
				case "json":
					return report.WriteDiffJSON(w, d)
				case "html":
					return report.WriteDiffHTML(w, d)
				}
				return report.WriteDiffText(w, d, all)
			}
			if err := output(cmd, out, write); err != nil {
				return err
			}
			if d.Flagged > 0 {
				return &exitError{code: ExitDifferent, err: fmt.Errorf("%d of %d comparisons differ beyond chance", d.Flagged, d.Tests)}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "text", "output `format`: text, json or html")
	fl.StringVarP(&out, "out", "o", "", "write to `FILE` (mode 0644) instead of standard output")
	fl.Float64Var(&alpha, "alpha", 0.05, "family-wise error rate of the flags, in (0, 1)")
	fl.BoolVar(&all, "all", false, "text: list every comparison, not only the flagged ones")
	return cmd
}

func newReportJUnitCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "junit REPORT",
		Short: "Write a run's expectations as JUnit XML",
		Long: "junit writes the run's expectations as JUnit XML, which CI systems (Jenkins, GitLab,\n" +
			"GitHub Actions reporters) show as tests: one testsuite named after the scenario, one\n" +
			"testcase per expectation, a failure for each that did not hold, and an error when\n" +
			"the run was interrupted.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, _, err := readReportFile(args[0])
			if err != nil {
				return err
			}
			return output(cmd, out, func(w io.Writer) error { return report.WriteJUnit(w, r) })
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to `FILE` (mode 0644) instead of standard output")
	return cmd
}

func newReportCSVCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "csv REPORT",
		Short: "Write a run's devices as CSV, one row each",
		Long: "csv writes one row per device (RFC 4180): id, board, wave, outcome, seen, target,\n" +
			"version, boots, faults, the number of power cuts and the last one's phase, flash\n" +
			"operation, address and partition, the brick reason, and the timeline's length and\n" +
			"last step. docs/report.md describes each column.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, _, err := readReportFile(args[0])
			if err != nil {
				return err
			}
			return output(cmd, out, func(w io.Writer) error { return report.WriteCSV(w, r) })
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to `FILE` (mode 0644) instead of standard output")
	return cmd
}

// readReportFile reads the report.json at path, or in the folder path; it
// returns the file it read.
func readReportFile(path string) (*report.Report, string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	if st.IsDir() {
		path = filepath.Join(path, "report.json")
		if st, err = os.Stat(path); err != nil {
			return nil, "", err
		}
	}
	if st.Size() > maxReportFile {
		return nil, "", fmt.Errorf("%s: %d bytes, more than the %d a report may have", path, st.Size(), int64(maxReportFile))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	r, err := report.ReadJSON(io.LimitReader(f, maxReportFile))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return r, path, nil
}

// output writes what write produces to the file out (atomically, mode
// 0644), or to the command's standard output when out is empty; nothing is
// written when write fails.
func output(cmd *cobra.Command, out string, write func(io.Writer) error) error {
	if out == "" {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			return err
		}
		_, err := cmd.OutOrStdout().Write(b.Bytes())
		return err
	}
	dir, name := filepath.Split(out)
	if dir == "" {
		dir = "."
	}
	if name == "" {
		return errors.New("--out: a file name is needed")
	}
	return writeReportFile(dir, name, write)
}
