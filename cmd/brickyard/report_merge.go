package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"brickyard/scenarios/report"
)

func newReportMergeCmd(a *app) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "merge REPORT... --out DIR",
		Short: "Merge the reports of a fleet's shards into the fleet's report",
		Long: "merge combines the report.json of every shard of one fleet ('brickyard fleet --shard K/N\n" +
			"--out DIR' on several machines, or the pods of deploy/kubernetes) into the report one\n" +
			"process running the whole fleet would have written: every device row, the outcome\n" +
			"counts, messages and errors summed, the latency computed from every shard's requests,\n" +
			"the rollout over time. It writes report.json and report.html into --out and prints the\n" +
			"summary. A REPORT is a report.json or the folder holding it. It refuses reports of\n" +
			"different scenarios, clocks, seeds, MTPs or fleet sizes, a shard given twice or missing,\n" +
			"and a device in two shards, naming the report at fault.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out: give the folder to write the merged report.json and report.html into")
			}
			parts := make([]report.Part, 0, len(args))
			for _, arg := range args {
				r, path, err := readReportFile(arg)
				if err != nil {
					return err
				}
				parts = append(parts, report.Part{Source: path, Report: r})
			}
			m, err := report.Merge(parts)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if err := report.WriteSummary(a.stdout, m); err != nil {
				return err
			}
			if err := writeReports(out, m); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			fmt.Fprintf(a.stdout, "\nreports: %s, %s\n", filepath.Join(out, "report.json"), filepath.Join(out, "report.html"))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the merged report.json and report.html into `DIR`")
	return cmd
}
