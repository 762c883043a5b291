package main

import (
	"fmt"

	"brickyard/boards/bench"
)

// BenchConfig is the bench: section of the configuration, the real boards
// on the lab's bench (docs/bench.md). The boards are listed in the
// configuration file (a list does not fit an environment variable or a
// flag); brickyard sweep --bench NAME sweeps one of them.
type BenchConfig struct {
	Boards      []bench.Spec `mapstructure:"boards"`
	PDUAddr     string       `mapstructure:"pdu_addr"`
	PDUHostname string       `mapstructure:"pdu_hostname"`
}

// board returns the bench board called name.
func (c BenchConfig) board(name string) (bench.Spec, error) {
	if err := bench.CheckSpecs(c.Boards); err != nil {
		return bench.Spec{}, fmt.Errorf("bench.boards: %w", err)
	}
	var names []string
	for _, s := range c.Boards {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return bench.Spec{}, fmt.Errorf("no bench board %q: the configuration's bench.boards lists none", name)
	}
	return bench.Spec{}, fmt.Errorf("no bench board %q (bench.boards lists %v)", name, names)
}
