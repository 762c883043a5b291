package configs

import (
	"bytes"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestDefaultIsYAMLWithLogSection(t *testing.T) {
	var m map[string]any
	if err := yaml.Unmarshal(Default(), &m); err != nil {
		t.Fatalf("%s is not valid YAML: %v", DefaultName, err)
	}
	if _, ok := m["log"].(map[string]any); !ok {
		t.Errorf("%s has no log section: %v", DefaultName, m)
	}
}

func TestDefaultReturnsCopy(t *testing.T) {
	a := Default()
	want := bytes.Clone(a)
	a[0] ^= 0xff
	if got := Default(); !bytes.Equal(got, want) {
		t.Error("modifying the slice from Default changed the embedded default")
	}
}
