package brickyard_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
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
	{prefix: "brickyard/usp/uspmsg"},    // generated: the protobuf runtime's own imports
	{prefix: "brickyard/usp/usprecord"}, // generated
	{prefix: "brickyard/mtp", allowed: []string{"brickyard/usp"}},
	{prefix: "brickyard/sim", allowed: []string{"brickyard/boards", "brickyard/flash", "brickyard/usp", "brickyard/mtp$"}},
	{prefix: "brickyard/sim/device", allowed: []string{"brickyard/boards", "brickyard/flash", "brickyard/usp", "brickyard/sim/faults", "brickyard/sim/model"}, pure: true},
	{prefix: "brickyard/sim/model", allowed: []string{"brickyard/usp"}, pure: true},
	{prefix: "brickyard/sim/vtime", pure: true},
	{prefix: "brickyard/sim/faults", pure: true},
	{prefix: "brickyard/sim/misbehave", allowed: []string{"brickyard/usp", "brickyard/sim/faults"}, pure: true},
	{prefix: "brickyard/scenarios", allowed: []string{"brickyard/sim", "brickyard/mtp", "brickyard/usp", "brickyard/boards", "brickyard/flash"}},
	{prefix: "brickyard/configs"},
	{prefix: "brickyard/cmd", allowed: []string{"brickyard/"}},
}

// Standard packages a pure core must not import directly: it does no I/O
// and coordinates no goroutines.
var impure = []string{"net", "net/http", "os", "os/exec", "os/signal", "syscall", "log", "sync", "io/ioutil"}

// Clock reads a pure core must not make: time comes in as an argument.
var clockReads = []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"}

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
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Deps \" \"}}|{{join .Imports \" \"}}|{{.Dir}}|{{join .GoFiles \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "|")
		pkg, deps, imports := parts[0], strings.Fields(parts[1]), strings.Fields(parts[2])
		dir, files := parts[3], strings.Fields(parts[4])
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
			for _, f := range files {
				checkPureSource(t, pkg, filepath.Join(dir, f))
			}
		}
	}
}

// checkPureSource fails on a go statement or a wall-clock read in a pure
// core's source file.
func checkPureSource(t *testing.T, pkg, file string) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Errorf("%s: %v", file, err)
		return
	}
	timeName := ""
	for _, imp := range f.Imports {
		if imp.Path.Value == `"time"` {
			timeName = "time"
			if imp.Name != nil {
				timeName = imp.Name.Name
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			t.Errorf("%s: %s is a pure core but starts a goroutine", fset.Position(n.Pos()), pkg)
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && timeName != "" && id.Name == timeName {
				for _, bad := range clockReads {
					if n.Sel.Name == bad {
						t.Errorf("%s: %s is a pure core but calls time.%s (take the time as an argument)", fset.Position(n.Pos()), pkg, bad)
					}
				}
			}
		}
		return true
	})
}
