package image_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDeps keeps the package a pure core on the standard library: no
// package of ours, no files, network, processes, clock or goroutine
// machinery.
func TestDeps(t *testing.T) {
	allowed := map[string]bool{
		"bytes": true, "cmp": true, "crypto/ed25519": true, "crypto/sha256": true,
		"crypto/x509": true, "encoding/binary": true, "encoding/pem": true,
		"errors": true, "fmt": true, "io": true, "strconv": true, "strings": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[p] {
				t.Errorf("%s imports %s", name, p)
			}
		}
		if strings.Contains(string(src), "go func") {
			t.Errorf("%s starts a goroutine", name)
		}
	}
}
