package dm

import (
	"go/ast"
	goparser "go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDeps keeps the package pure: the standard library minus I/O, clock
// and concurrency, protobuf, and brickyard/usp, usp/path, usp/uspmsg; no
// goroutines, no wall clock, no global randomness.
func TestDeps(t *testing.T) {
	allowed := map[string]bool{
		"brickyard/usp": true, "brickyard/usp/path": true, "brickyard/usp/uspmsg": true,
		"google.golang.org/protobuf/proto": true,
		"encoding/base64":                  true, "encoding/binary": true, "encoding/json": true, "errors": true,
		"fmt": true, "maps": true, "math": true, "math/rand/v2": true, "slices": true, "strconv": true,
		"strings": true, "time": true,
	}
	forbidden := map[string]bool{"time.Now": true, "time.Since": true, "time.Until": true, "time.Sleep": true,
		"time.After": true, "time.Tick": true, "time.NewTimer": true, "time.NewTicker": true, "time.AfterFunc": true,
		"rand.Int": true, "rand.IntN": true, "rand.Float64": true, "rand.N": true, "rand.Uint64": true, "rand.Perm": true, "rand.Shuffle": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[p] {
				t.Errorf("%s imports %s", name, p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s starts a goroutine", name)
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && forbidden[id.Name+"."+n.Sel.Name] {
					t.Errorf("%s uses %s.%s", name, id.Name, n.Sel.Name)
				}
			case *ast.GenDecl:
				if n.Tok == token.VAR && f.Scope != nil {
					for _, s := range n.Specs {
						for _, id := range s.(*ast.ValueSpec).Names {
							if f.Scope.Lookup(id.Name) != nil && !strings.HasSuffix(id.Name, "Codes") && id.Name != "errShort" {
								t.Errorf("%s: package variable %s (global state?)", name, id.Name)
							}
						}
					}
				}
			}
			return true
		})
	}
}
