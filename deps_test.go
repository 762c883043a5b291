package brickyard_test

import (
	"os/exec"
	"strings"
	"testing"
)

// rule says which of our packages a folder's packages may depend on
// (transitively), and which standard packages a pure core may not import.
type rule struct {
	prefix  string   // package path prefix the rule applies to
	allowed []string // prefixes of ours it may depend on (itself always)
	pure    bool     // pure core: no network, no processes, no goroutine-owning I/O packages
}

// The table of ARCHITECTURE.md ("The folders"). Longest prefix wins.
var rules = []rule{
	{prefix: "brickyard/flash", pure: true},
	{prefix: "brickyard/boards", allowed: []string{"brickyard/flash"}, pure: true},
	{prefix: "brickyard/boards/bench", allowed: []string{"brickyard/boards", "brickyard/flash"}},
	{prefix: "brickyard/usp", pure: true},
	{prefix: "brickyard/mtp", allowed: []string{"brickyard/usp"}},
	{prefix: "brickyard/sim", allowed: []string{"brickyard/boards", "brickyard/flash", "brickyard/usp", "brickyard/mtp$"}},
	{prefix: "brickyard/scenarios", allowed: []string{"brickyard/sim", "brickyard/mtp", "brickyard/usp", "brickyard/boards", "brickyard/flash"}},
	{prefix: "brickyard/configs"},
	{prefix: "brickyard/cmd", allowed: []string{"brickyard/"}},
}

// Standard packages a pure core must not import directly: it does no I/O,
// owns no goroutines that talk to the world, reads no clock through them.
var impure = []string{"net", "net/http", "os/exec", "os/signal", "syscall"}

func ruleFor(pkg string) *rule {
	var best *rule
	for i := range rules {
		r := &rules[i]
		if (pkg == r.prefix || strings.HasPrefix(pkg, r.prefix+"/")) && (best == nil || len(r.prefix) > len(best.prefix)) {
			best = r
		}
	}
	return best
}

func allowedDep(r *rule, dep string) bool {
	if dep == r.prefix || strings.HasPrefix(dep, r.prefix+"/") {
		return true
	}
	for _, a := range r.allowed {
		if exact, ok := strings.CutSuffix(a, "$"); ok {
			if dep == exact {
				return true
			}
			continue
		}
		if dep == a || strings.HasPrefix(dep, strings.TrimSuffix(a, "/")+"/") {
			return true
		}
	}
	return false
}

func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Deps \" \"}}|{{join .Imports \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "|")
		pkg, deps, imports := parts[0], strings.Fields(parts[1]), strings.Fields(parts[2])
		if pkg == "brickyard" {
			continue
		}
		r := ruleFor(pkg)
		if r == nil {
			t.Errorf("%s is in no folder of the architecture table: add it to deps_test.go and ARCHITECTURE.md", pkg)
			continue
		}
		for _, d := range deps {
			if strings.HasPrefix(d, "brickyard/") && !allowedDep(r, d) {
				t.Errorf("%s depends on %s: not allowed by the architecture table", pkg, d)
			}
		}
		if r.pure {
			for _, imp := range imports {
				for _, bad := range impure {
					if imp == bad {
						t.Errorf("%s is a pure core but imports %s", pkg, imp)
					}
				}
			}
		}
	}
}
