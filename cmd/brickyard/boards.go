package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"brickyard/boards/profile"
	"brickyard/configs"
)

// loadProfiles reads the built-in board profiles and, when file is not
// empty, the profiles of that file over them.
func loadProfiles(file string) (profile.Set, error) {
	set, err := profile.Parse("configs/"+configs.BoardsName+" (built in)", configs.Boards(), profile.Loaders())
	if err != nil {
		return nil, err
	}
	if file == "" {
		return set, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--boards: %w", err)
	}
	extra, err := profile.Parse(file, data, profile.Loaders())
	if err != nil {
		return nil, err
	}
	for name, p := range extra {
		set[name] = p
	}
	return set, nil
}

func newBoardsCmd(_ *app) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "boards",
		Short: "List the board profiles: flash chip, partitions and bootloader",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := loadProfiles(file)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "BOARD\tBOOTLOADER\tFLASH\tSLOTS\tIMAGES\tDESCRIPTION")
			for _, name := range set.Names() {
				p, _ := set.Get(name)
				var slots []string
				for _, s := range p.Loader.Slots() {
					part, _ := p.Layout.Get(s)
					slots = append(slots, fmt.Sprintf("%s:%s", s, profile.Size(part.Size)))
				}
				var formats []string
				for _, f := range p.ImageRules().Accepted() {
					formats = append(formats, f.String())
				}
				fmt.Fprintf(w, "%s\t%s\t%s/%s sectors, write unit %d\t%s\t%s\t%s\n", name, p.Loader.Name(),
					profile.Size(p.Flash.Size), profile.Size(p.Flash.SectorSize), p.Flash.WriteUnit, strings.Join(slots, " "),
					strings.Join(formats, ","), p.Description)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&file, "boards", "", "also read board profiles from `FILE` (YAML, the form of configs/boards.yaml)")
	return cmd
}
