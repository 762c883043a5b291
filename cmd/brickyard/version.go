package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is brickyard's release version, set when building with
// -ldflags "-X main.version=v1.2.3". When empty, the version comes from the
// build information: the module version, or else the VCS revision.
var version string

// versionInfo is what `brickyard version --json` prints.
type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified,omitempty"` // the work tree had local changes
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

func newVersionCmd(_ *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print brickyard's version, Go version and platform",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, ok := debug.ReadBuildInfo()
			vi := newVersionInfo(version, bi, ok)
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(vi)
			}
			_, err := fmt.Fprintf(out, "brickyard version %s %s %s/%s\n", vi.Version, vi.Go, vi.OS, vi.Arch)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version as a JSON object")
	return cmd
}

// newVersionInfo works out the version: ldflag if set, else the main module's
// version, else the VCS revision (12 digits, "+dirty" if modified), else "(devel)".
func newVersionInfo(ldflag string, bi *debug.BuildInfo, ok bool) versionInfo {
	vi := versionInfo{Version: "(devel)", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if ok && bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				vi.Revision = s.Value
			case "vcs.modified":
				vi.Modified = s.Value == "true"
			}
		}
		switch {
		case bi.Main.Version != "" && bi.Main.Version != "(devel)":
			vi.Version = bi.Main.Version
		case vi.Revision != "":
			vi.Version = vi.Revision[:min(12, len(vi.Revision))]
			if vi.Modified {
				vi.Version += "+dirty"
			}
		}
	}
	if ldflag != "" {
		vi.Version = ldflag
	}
	return vi
}
