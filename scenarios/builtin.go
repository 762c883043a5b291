package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

//go:embed builtin/*.yaml
var builtin embed.FS

// Default is the scenario `brickyard run` runs when given none.
const Default = "default"

// Builtin returns the built-in scenario name, parsed.
func Builtin(name string) (*Scenario, error) {
	data, err := builtin.ReadFile("builtin/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no built-in scenario %q (built in: %s)", name, strings.Join(Builtins(), ", "))
	}
	return Parse("builtin:"+name, data)
}

// Builtins lists the built-in scenarios, sorted.
func Builtins() []string {
	ents, _ := fs.ReadDir(builtin, "builtin")
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// BuiltinSource is the text of a built-in scenario.
func BuiltinSource(name string) ([]byte, error) {
	return builtin.ReadFile("builtin/" + name + ".yaml")
}
