package main

import (
	"encoding"
	"fmt"
	"io"
	"reflect"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func newConfigCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration and where each value came from",
		Long: "config prints every configuration key (log, and the run: and fleet: sections, one\n" +
			"key per flag of those commands) with its effective value and the layer it came\n" +
			"from: the embedded default, --config FILE, a BRICKYARD_* variable or a flag.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return writeConfig(cmd.OutOrStdout(), newSchema(reflect.TypeFor[Config]()), a.cfg, a.sources)
		},
	}
}

// writeConfig writes cfg as YAML in schema order, each value followed by a
// comment saying where it came from.
func writeConfig(w io.Writer, s *schema, cfg any, src sources) error {
	root := &yaml.Node{Kind: yaml.MappingNode}
	sections := map[string]*yaml.Node{"": root}
	var section func(key string) *yaml.Node
	section = func(key string) *yaml.Node {
		if n, ok := sections[key]; ok {
			return n
		}
		parent, name := splitKey(key)
		n := &yaml.Node{Kind: yaml.MappingNode}
		p := section(parent)
		p.Content = append(p.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, n)
		sections[key] = n
		return n
	}
	cv := reflect.ValueOf(cfg)
	for _, l := range s.leaves {
		parent, name := splitKey(l.key)
		k := &yaml.Node{Kind: yaml.ScalarNode, Value: name}
		v := &yaml.Node{}
		if err := v.Encode(showValue(cv.FieldByIndex(l.index))); err != nil {
			return fmt.Errorf("%s: %w", l.key, err)
		}
		if v.Kind == yaml.ScalarNode {
			v.LineComment = src[l.key]
		} else {
			k.LineComment = src[l.key]
		}
		p := section(parent)
		p.Content = append(p.Content, k, v)
	}
	fmt.Fprintln(w, "# Effective configuration; after each value, its source. Precedence, lowest")
	fmt.Fprintln(w, "# to highest: embedded default, --config file, BRICKYARD_* environment, flags.")
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return err
	}
	return enc.Close()
}

func splitKey(key string) (parent, name string) {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '.' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}

// showValue returns v as it is written in a configuration file.
func showValue(v reflect.Value) any {
	switch x := v.Interface().(type) {
	case time.Duration:
		return x.String()
	case encoding.TextMarshaler:
		if b, err := x.MarshalText(); err == nil {
			return string(b)
		}
	}
	return v.Interface()
}
