package main

import (
	"github.com/spf13/cobra"
)

func newModelCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Vendor data models: import a device dump or TR-181 XML, check a model file",
		Long: "A vendor data model adds a product's objects, parameters, commands and events to the\n" +
			"default TR-181 model of brickyard's devices (brickyard fleet --model, a board profile's\n" +
			"or a scenario board's model:). 'model import' makes one of a GetSupportedDM + Get dump\n" +
			"captured from a real device (JSON) or of the Broadband Forum's TR-181 XML; 'model check'\n" +
			"loads a model file as a fleet would and says what it holds. docs/vendor-model.md.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newModelImportCmd(a), newModelCheckCmd(a))
	return cmd
}
