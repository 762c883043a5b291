package main

import (
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"brickyard/scenarios/workers"
)

// newWorkerCmd is the hidden command a parent brickyard starts its
// workers with (--workers): it takes its part of the run from its channel
// to the parent (fd 3), not from flags, and reports there.
func newWorkerCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "worker",
		Short:  "A worker process of brickyard fleet --workers or run --workers (started by brickyard itself)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := workers.Attach()
			if err != nil {
				return err
			}
			return workers.Serve(cmd.Context(), c, workers.WorkerEnv{Log: a.log, Profiles: loadProfiles})
		},
	}
}

// workerSpec is how this binary starts its workers: itself, with the
// hidden worker command and this process's log settings; their logs go
// to this process's standard error.
func workerSpec(a *app) (workers.Spec, error) {
	exe, err := os.Executable()
	if err != nil {
		return workers.Spec{}, err
	}
	return workers.Spec{Path: exe, Args: []string{"worker", "--log-level", string(a.cfg.Log.Level), "--log-format", string(a.cfg.Log.Format)},
		Stderr: a.stderr}, nil
}

// workerSpecDir is workerSpec and a temporary folder for the workers'
// reports and logs, which cleanup removes.
func workerSpecDir(a *app) (spec workers.Spec, dir string, cleanup func(), err error) {
	if spec, err = workerSpec(a); err != nil {
		return spec, "", nil, err
	}
	if dir, err = os.MkdirTemp("", "brickyard-workers-"); err != nil {
		return spec, "", nil, err
	}
	return spec, dir, func() { os.RemoveAll(dir) }, nil
}

// givenFlags lists the flags of section that the user gave (in any layer
// above the embedded default), by flag name.
func (a *app) givenFlags(section string) []string {
	var out []string
	for key, where := range a.sources {
		name, ok := strings.CutPrefix(key, section+".")
		if ok && !strings.HasPrefix(where, "embedded default ") {
			out = append(out, strings.ReplaceAll(name, "_", "-"))
		}
	}
	slices.Sort(out)
	return out
}
