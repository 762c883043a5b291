package fleet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"brickyard/boards"
	"brickyard/flash"
	"brickyard/sim/device"
)

// Device state across runs (RealConfig.StateDir): one file per device,
// "<escaped Endpoint ID>.state", holding what survives a power cut — the
// device's non-volatile store with its data model's persistent part
// (device.AppendState), its flash chip as it differs from its factory
// board's (flash.Chip.AppendState), its board's security counter — so
// that a farm stopped and started again finds its devices as a power
// cycle leaves them: their firmware, configuration, controllers,
// persistent subscriptions and instance numbers.
//
//	file := "BYST" 0x01 uvarint(len) device-state uvarint(len) chip-state uvarint(security counter)

const stateMagic = "BYST\x01"

// maxStateFile bounds a state file: a chip that rewrote all of a 64 MiB
// flash, and its model.
const maxStateFile = 80 << 20

// ErrState is wrapped by the errors of a state file that does not load.
var ErrState = errors.New("fleet: bad device state file")

func stateFile(dir, id string) string { return filepath.Join(dir, url.PathEscape(id)+".state") }

// saveState writes device d's state (its board a clone of factory) to dir.
func saveState(dir, id string, d *device.Device, factory *boards.Board, now time.Time) error {
	chip, ok1 := d.Board().Chip.(*flash.Chip)
	base, ok2 := factory.Chip.(*flash.Chip)
	if !ok1 || !ok2 {
		return nil // not a simulated chip: a real board keeps its own flash
	}
	ds := d.AppendState(nil, now)
	cs := chip.AppendState(nil, base)
	b := []byte(stateMagic)
	b = binary.AppendUvarint(b, uint64(len(ds)))
	b = append(b, ds...)
	b = binary.AppendUvarint(b, uint64(len(cs)))
	b = append(b, cs...)
	b = binary.AppendUvarint(b, uint64(d.Board().SecurityCounter))
	f := stateFile(dir, id)
	tmp := f + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, f)
}

// loadState reads device id's state from dir: its board (a clone of
// factory with the saved chip) and its device state; nil, nil when dir
// has none for it.
func loadState(dir, id string, factory *boards.Board) (*boards.Board, []byte, error) {
	fh, err := os.Open(stateFile(dir, id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxStateFile+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > maxStateFile {
		return nil, nil, fmt.Errorf("%w %s: too large", ErrState, stateFile(dir, id))
	}
	b, ds, err := parseState(data, factory)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", stateFile(dir, id), err)
	}
	return b, ds, nil
}

// parseState decodes a state file: the board (a clone of factory with
// the saved chip) and the device state, which device.LoadState checks.
// Every length is checked against what is left before it is used.
func parseState(data []byte, factory *boards.Board) (*boards.Board, []byte, error) {
	bad := func(why string) (*boards.Board, []byte, error) {
		return nil, nil, fmt.Errorf("%w: %s", ErrState, why)
	}
	if len(data) > maxStateFile {
		return bad("too large")
	}
	rest, ok := bytes.CutPrefix(data, []byte(stateMagic))
	if !ok {
		return bad("not a brickyard device state")
	}
	part := func() ([]byte, bool) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return nil, false
		}
		p := rest[k : k+int(n)]
		rest = rest[k+int(n):]
		return p, true
	}
	ds, ok1 := part()
	cs, ok2 := part()
	sc, k := binary.Uvarint(rest)
	if !ok1 || !ok2 || k <= 0 || k != len(rest) || sc > 1<<32-1 {
		return bad("truncated")
	}
	base, ok := factory.Chip.(*flash.Chip)
	if !ok {
		return bad("the board's flash is not a simulated chip")
	}
	chip, err := flash.LoadState(base, cs)
	if err != nil {
		return nil, nil, err
	}
	b := factory.Clone()
	b.Chip, b.SecurityCounter = chip, uint32(sc)
	return b, ds, nil
}
