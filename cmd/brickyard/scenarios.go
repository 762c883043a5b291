package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"brickyard/scenarios"
)

func newScenariosCmd(_ *app) *cobra.Command {
	var show string
	cmd := &cobra.Command{
		Use:   "scenarios",
		Short: "List the built-in scenarios (--show NAME prints one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if show != "" {
				src, err := scenarios.BuiltinSource(show)
				if err != nil {
					_, err = scenarios.Builtin(show) // its error lists the names
					return err
				}
				_, err = out.Write(src)
				return err
			}
			w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "SCENARIO\tCLOCK\tDEVICES\tDESCRIPTION")
			for _, name := range scenarios.Builtins() {
				sc, err := scenarios.Builtin(name)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", name, sc.Clock, sc.Devices(), sc.Description)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&show, "show", "", "print the built-in scenario `NAME` (a starting point for your own)")
	return cmd
}
