package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"brickyard/sim/device"
	"brickyard/sim/model"
)

func newModelImportCmd(_ *app) *cobra.Command {
	var out, objects string
	var instances int
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Make a vendor model file of a GetSupportedDM+Get dump (JSON) or of TR-181 XML",
		Long: "import reads FILE — a dump of what a controller read from a real device (the protobuf\n" +
			"JSON of its GetSupportedDMResp and GetResp), or a Broadband Forum data-model XML such as\n" +
			"tr-181-2-19-0-usp-full.xml — leaves out what brickyard's default model has, and writes\n" +
			"the vendor model YAML (to --out, else stdout). For XML, --objects keeps only the objects\n" +
			"under the given path prefixes and --instances gives every table that many factory rows.\n" +
			"What it left out goes to stderr.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if instances < 0 || instances > model.MaxInstances {
				return fmt.Errorf("--instances %d: want 0 to %d", instances, model.MaxInstances)
			}
			data, err := readModelFile(args[0])
			if err != nil {
				return err
			}
			base, err := device.Base()
			if err != nil {
				return err
			}
			var m *model.Model
			var notes []string
			if t := strings.TrimLeft(string(data[:min(len(data), 512)]), " \t\r\n\ufeff"); strings.HasPrefix(t, "<") {
				var prefixes []string
				for _, p := range strings.Split(objects, ",") {
					if p = strings.TrimSpace(p); p != "" {
						prefixes = append(prefixes, p)
					}
				}
				m, notes, err = model.ImportXML(data, prefixes, instances, base)
			} else {
				if objects != "" || cmd.Flags().Changed("instances") {
					return fmt.Errorf("--objects and --instances are for TR-181 XML; %s is a dump", args[0])
				}
				m, notes, err = model.ImportDump(data, base)
			}
			for _, n := range notes {
				fmt.Fprintln(cmd.ErrOrStderr(), "left out:", n)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if _, err := device.NewSchemaWith(m); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			y, err := m.Marshal()
			if err != nil {
				return err
			}
			header := fmt.Sprintf("# Vendor data model imported by brickyard model import from %s.\n", args[0])
			if out == "" {
				_, err = io.WriteString(cmd.OutOrStdout(), header+string(y))
				return err
			}
			if err := os.WriteFile(out, []byte(header+string(y)), 0o644); err != nil {
				return err
			}
			o, p := m.Count()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d objects, %d parameters\n", out, o, p)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the model to `FILE`")
	cmd.Flags().StringVar(&objects, "objects", "", "TR-181 XML: import only the objects under these path `PREFIXES` (comma-separated, e.g. Device.WiFi.,Device.Hosts.)")
	cmd.Flags().IntVar(&instances, "instances", 1, "TR-181 XML: factory rows per table (at least its minEntries)")
	return cmd
}

// readModelFile reads a model file, at most model.MaxFileSize bytes.
func readModelFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, model.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > model.MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, model.MaxFileSize)
	}
	return data, nil
}
