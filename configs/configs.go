// Package configs holds brickyard's configuration files. The default
// configuration, brickyard.yaml, is embedded in the binary: it is the lowest
// layer of every brickyard invocation's configuration and documents every key.
//
// The Go types that the configuration decodes into live next to the code that
// uses them (cmd/brickyard loads and checks them); this package holds data only
// and imports nothing of brickyard's.
package configs

import (
	"bytes"
	_ "embed"
)

// DefaultName is the file name of the embedded default configuration.
const DefaultName = "brickyard.yaml"

//go:embed brickyard.yaml
var defaultYAML []byte

// Default returns the embedded default configuration (YAML). The caller owns
// the returned slice.
func Default() []byte { return bytes.Clone(defaultYAML) }

// BoardsName is the file name of the built-in board profiles.
const BoardsName = "boards.yaml"

//go:embed boards.yaml
var boardsYAML []byte

// Boards returns the built-in board profiles (YAML, read by
// brickyard/boards/profile). The caller owns the returned slice.
func Boards() []byte { return bytes.Clone(boardsYAML) }
