package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

// app is what every subcommand works with. The root command's
// PersistentPreRunE fills it in before any subcommand's RunE runs, so a
// subcommand must not set its own PersistentPreRun(E): cobra runs only the
// nearest one.
type app struct {
	stdout, stderr io.Writer
	configFile     string // --config

	cfg     Config
	sources sources // where each value of cfg came from
	log     *zap.Logger
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "brickyard",
		Short: "A farm of simulated firmware devices",
		Long: "brickyard runs simulated firmware devices (USP agents with emulated flash and\n" +
			"bootloaders) and real boards on a bench, under one device-management controller.\n\n" +
			"Configuration, lowest to highest precedence: the embedded default, --config FILE,\n" +
			"BRICKYARD_* environment variables (BRICKYARD_LOG_LEVEL for log.level), flags.",
		SilenceUsage:      true, // a failing command prints its error, not the usage
		SilenceErrors:     true, // run prints errors
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return a.setup(cmd) },
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())
	})

	fs := root.PersistentFlags()
	fs.StringVar(&a.configFile, "config", "", "read configuration `FILE` (YAML) over the embedded default")
	fs.String("log-level", "", "least severe log `level`: debug, info, warn or error (log.level)")
	bindFlag(fs, "log-level", "log.level")
	fs.String("log-format", "", "log `format`: auto, console or json (log.format)")
	bindFlag(fs, "log-format", "log.format")

	root.AddCommand(
		newVersionCmd(a),
		newConfigCmd(a),
		newBoardsCmd(a),
		newSweepCmd(a),
		newImageCmd(a),
		newRunCmd(a),
		newScenariosCmd(a),
		newFleetCmd(a),
		newModelCmd(a),
		newReportCmd(a),
		newBoardEmuCmd(a),
		newWorkerCmd(a),
	)
	return root
}

// setup loads the configuration and builds the logger for cmd.
func (a *app) setup(cmd *cobra.Command) error {
	// Cobra's own commands work whatever the configuration says.
	for c := cmd; c != nil; c = c.Parent() {
		switch c.Name() {
		case "help", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			return nil
		}
	}
	cfg, src, err := loadConfig(a.configFile, cmd.Flags().Changed("config"), cmd.Flags())
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, a.stderr)
	if err != nil {
		return err
	}
	a.cfg, a.sources, a.log = cfg, src, log
	log.Debug("configuration loaded", zap.String("command", cmd.CommandPath()), zap.String("config_file", a.configFile))
	return nil
}
