package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// yamlLayer reads one YAML document named name (a file path, or the embedded
// default) and checks every key in it, reporting all problems with their line.
func (s *schema) yamlLayer(name string, data []byte) (*layer, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, extra yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return newLayer(), nil // empty, or only comments
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("%s:%d: expected one YAML document; got more", name, extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	w := &yamlWalker{s: s, name: name, l: newLayer(), reported: map[string]bool{}, active: map[*yaml.Node]bool{}}
	w.section("", &doc)
	return w.l, errors.Join(w.errs...)
}

type yamlWalker struct {
	s        *schema
	name     string
	l        *layer
	errs     []error
	reported map[string]bool     // messages in errs
	active   map[*yaml.Node]bool // mappings being walked: an alias to one is a cycle
	visits   int                 // mappings walked, bounded against alias bombs
}

// maxVisits bounds the mappings walked in one document, counting each
// expansion of a "<<" merge, so that aliases cannot make loading exponential.
const maxVisits = 10000

func (w *yamlWalker) errorf(line int, key, format string, args ...any) {
	if key == "" {
		key = "top level"
	}
	msg := fmt.Sprintf("%s:%d: %s: %s", w.name, line, key, fmt.Sprintf(format, args...))
	if !w.reported[msg] { // once, however often a merge repeats it
		w.reported[msg] = true
		w.errs = append(w.errs, errors.New(msg))
	}
}

// section checks that n, the value of section key prefix, is a mapping of
// known keys, and records the leaves in it.
func (w *yamlWalker) section(prefix string, n *yaml.Node) {
	n = resolve(n)
	switch {
	case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
		w.section(prefix, n.Content[0])
		return
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return // an empty section
	case n.Kind != yaml.MappingNode:
		w.errorf(n.Line, prefix, "expected a mapping; got %s", describeNode(n))
		return
	case w.active[n]:
		w.errorf(n.Line, prefix, "a merged alias refers to the mapping that contains it")
		return
	case w.visits >= maxVisits:
		if w.visits++; w.visits == maxVisits+1 {
			w.errorf(n.Line, prefix, "too many merged aliases")
		}
		return
	}
	w.visits++
	w.active[n] = true
	defer delete(w.active, n)
	// Keys merged in with "<<" are recorded first, so that explicit keys
	// override them; in "<<: [*a, *b]" the earlier mapping wins, so the
	// list is recorded last to first.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Tag == "!!merge" {
			v := resolve(n.Content[i+1])
			if v.Kind != yaml.SequenceNode {
				w.section(prefix, v)
				continue
			}
			for _, m := range slices.Backward(v.Content) {
				w.section(prefix, m)
			}
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			continue
		}
		key := joinKey(prefix, k.Value)
		if k.Kind != yaml.ScalarNode {
			w.errorf(k.Line, prefix, "expected a plain key; got %s", describeNode(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			w.errorf(k.Line, key, "duplicate key; first at line %d", first)
			continue
		}
		seen[k.Value] = k.Line
		w.key(prefix, key, k, v)
	}
}

func (w *yamlWalker) key(prefix, key string, k, v *yaml.Node) {
	if w.s.isSection(key) {
		w.section(key, v)
		return
	}
	l := w.s.byKey[key]
	if l == nil {
		w.errorf(k.Line, key, "unknown key; %s", w.s.expectedChildren(prefix))
		return
	}
	var raw any
	if err := v.Decode(&raw); err != nil {
		w.errorf(v.Line, key, "%v", err)
		return
	}
	if err := l.check(raw, false); err != nil {
		w.errorf(v.Line, key, "%v", err)
		return
	}
	w.l.set(key, raw, fmt.Sprintf("%s:%d", w.name, k.Line))
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func describeNode(n *yaml.Node) string {
	switch n = resolve(n); n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	var raw any
	if n.Decode(&raw) != nil {
		return strconv.Quote(n.Value)
	}
	return describe(raw)
}
