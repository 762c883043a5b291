package profile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DecodeStrict decodes the YAML document data into v, refusing unknown
// keys, and returns the document's node tree for error lines. Errors name
// source, the line and the key path ("fleet.boards.0.count"), as every
// brickyard file format reports its problems:
//
//	x.yaml:5: fleet.boards.0.count: cannot unmarshal !!str `many` into int
//
// A float written as .nan, .inf or -.inf anywhere in the document is an
// error too: no brickyard setting takes a value that is not a number. An
// empty document is io.EOF, unwrapped, so callers can allow it.
func DecodeStrict(source string, data []byte, v any) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if errs := nonFinite(source, &root); len(errs) > 0 {
		return &root, errors.Join(errs...)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return &root, KeyErrors(source, &root, err)
	}
	return &root, nil
}

// KeyErrors rewrites a yaml.v3 decoding error so that each of its lines
// names source, the line and the key at that line of root.
func KeyErrors(source string, root *yaml.Node, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%s: %w", source, err)
	}
	msgs := make([]error, len(te.Errors))
	for i, e := range te.Errors {
		msgs[i] = fmt.Errorf("%s:%s", source, withKey(root, e))
	}
	return errors.Join(msgs...)
}

// withKey turns "line 5: cannot unmarshal …" into "5: KEY: cannot
// unmarshal …", KEY the path of the key on line 5.
func withKey(root *yaml.Node, e string) string {
	rest, ok := strings.CutPrefix(e, "line ")
	if !ok {
		return " " + e
	}
	num, msg, ok := strings.Cut(rest, ": ")
	line, err := strconv.Atoi(num)
	if !ok || err != nil {
		return rest
	}
	if key := KeyAt(root, line); key != "" {
		return num + ": " + key + ": " + msg
	}
	return rest
}

// KeyAt is the dotted path (list items by 0-based index) of the deepest
// key or list item that starts on line, or "" when none does.
func KeyAt(root *yaml.Node, line int) string {
	best := ""
	var walk func(n *yaml.Node, path string, depth int)
	bestDepth := -1
	walk = func(n *yaml.Node, path string, depth int) {
		if n == nil || depth > 64 { // aliases can make a graph; the depth bounds the walk
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, depth+1)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := join(path, k.Value)
				if k.Line == line && depth > bestDepth {
					best, bestDepth = p, depth
				}
				if k.Line <= line {
					walk(v, p, depth+1)
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := join(path, strconv.Itoa(i))
				if c.Line == line && c.Kind == yaml.ScalarNode && depth > bestDepth {
					best, bestDepth = p, depth
				}
				if c.Line <= line {
					walk(c, p, depth+1)
				}
			}
		}
	}
	walk(root, "", 0)
	return best
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// nonFinite reports every float scalar of the document that is not a
// number (.nan, .inf, -.inf in any of YAML's spellings).
func nonFinite(source string, root *yaml.Node) []error {
	var errs []error
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || depth > 64 {
			return
		}
		if n.Kind == yaml.ScalarNode && n.Tag == "!!float" {
			f, err := strconv.ParseFloat(n.Value, 64)
			if isYAMLNonFinite(n.Value) || err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
				errs = append(errs, fmt.Errorf("%s:%d: %s: %s is not a number", source, n.Line, KeyAt(root, n.Line), n.Value))
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(root, 0)
	return errs
}

// isYAMLNonFinite recognises YAML 1.2's spellings of NaN and infinity.
func isYAMLNonFinite(s string) bool {
	switch strings.TrimLeft(s, "+-") {
	case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF":
		return true
	}
	return false
}
