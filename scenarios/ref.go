package scenarios

import (
	"errors"
	"fmt"
	"path/filepath"
)

// Ref is a scenario as another process reads it again (a worker of
// brickyard run --workers): its text and folder as Load read them, and
// what was overridden since (clock, seed, size), which FromRef applies in
// the same order, so that both processes hold the same scenario.
type Ref struct {
	Source  string `json:"source"`
	Text    []byte `json:"text"`
	Dir     string `json:"dir,omitempty"` // where its relative paths start; absolute
	Clock   string `json:"clock"`
	Seed    uint64 `json:"seed"`
	Devices int    `json:"devices,omitempty"` // the size Scale gave the fleet, 0: as written
}

// Ref is sc as another process reads it again.
func (sc *Scenario) Ref() Ref {
	dir := sc.dir
	if dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
	}
	return Ref{Source: sc.source, Text: sc.text, Dir: dir, Clock: sc.Clock, Seed: sc.Seed, Devices: sc.scaled}
}

// FromRef reads the scenario r refers to.
func FromRef(r Ref) (*Scenario, error) {
	if len(r.Text) == 0 {
		return nil, errors.New("scenarios: a reference without the scenario's text")
	}
	if len(r.Text) > maxScenarioFile {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed", r.Source, len(r.Text), maxScenarioFile)
	}
	sc, err := Parse(r.Source, r.Text)
	if err != nil {
		return nil, err
	}
	sc.dir = r.Dir
	if err := sc.SetClock(r.Clock); err != nil {
		return nil, fmt.Errorf("%s: clock %w", r.Source, err)
	}
	if r.Seed == 0 {
		return nil, fmt.Errorf("%s: seed 0: want a seed from 1", r.Source)
	}
	sc.Seed = r.Seed
	if r.Devices > 0 {
		if err := sc.Scale(r.Devices); err != nil {
			return nil, fmt.Errorf("%s: %w", r.Source, err)
		}
	}
	return sc, nil
}
