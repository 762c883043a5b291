package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"brickyard/scenarios"
)

func newModelCheckCmd(_ *app) *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE",
		Short: "Load a vendor model file as a fleet would and say what it holds",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, notes, err := scenarios.LoadModel(args[0])
			if err != nil {
				return err
			}
			objs, params := m.Count()
			tables, rows, cmds, events := 0, 0, 0, 0
			for _, o := range m.Objects {
				if strings.HasSuffix(o.Path, "{i}.") {
					tables++
					rows += len(o.Instances)
				}
				cmds += len(o.Commands)
				events += len(o.Events)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: model %q: %d objects (%d tables, %d factory rows), %d parameters, %d commands, %d events\n",
				args[0], m.Name, objs, tables, rows, params, cmds, events)
			for _, n := range notes {
				fmt.Fprintln(cmd.OutOrStdout(), "left out:", n)
			}
			return nil
		},
	}
}
