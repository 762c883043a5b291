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
			"summary. A REPORT is a report.json, the folder holding it, or a folder of such folders\n" +
			"(the reports volume of deploy/kubernetes: index-0/, index-1/, …). It refuses reports of\n" +
			"different scenarios, clocks, seeds, MTPs or fleet sizes, a shard given twice or missing,\n" +
			"and a device in two shards, naming the report at fault.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out: give the folder to write the merged report.json and report.html into")
			}
			var files []string
			for _, arg := range args {
				fs, err := shardReports(arg)
				if err != nil {
					return err
				}
				files = append(files, fs...)
			}
			parts := make([]report.Part, 0, len(files))
			for _, file := range files {
				r, path, err := readReportFile(file)
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

// shardReports is the report files arg names: itself (a file, or a
// folder holding report.json), or the report.json of each folder in it,
// in name order, when it holds none itself.
func shardReports(arg string) ([]string, error) {
	st, err := os.Stat(arg)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{arg}, nil
	}
	if _, err := os.Stat(filepath.Join(arg, "report.json")); err == nil {
		return []string{arg}, nil
	}
	ents, err := os.ReadDir(arg)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		p := filepath.Join(arg, e.Name(), "report.json")
		if _, err := os.Stat(p); e.IsDir() && err == nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no report.json in it nor in any folder in it", arg)
	}
	return out, nil
}
