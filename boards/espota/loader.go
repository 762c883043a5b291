package espota

import (
	"errors"
	"fmt"

	"brickyard/boards"
	"brickyard/boards/image"
	"brickyard/boards/image/espapp"
	"brickyard/boards/image/formats"
	"brickyard/flash"
)

// Partition names.
const (
	PartOtadata = "otadata"
	PartOTA0    = "ota_0"
	PartOTA1    = "ota_1"
	PartFactory = "factory" // optional
)

// Errors of the model, besides those of package boards.
var (
	// ErrPendingVerify: esp_ota_begin refuses to write while the running
	// app is PENDING_VERIFY (ESP_ERR_OTA_ROLLBACK_INVALID_STATE).
	ErrPendingVerify = errors.New("esp-ota: the running app is PENDING_VERIFY: confirm it before writing an update")
	// ErrValidateFailed: esp_ota_set_boot_partition refuses an image that
	// does not verify (ESP_ERR_OTA_VALIDATE_FAILED).
	ErrValidateFailed = errors.New("esp-ota: image does not validate")
	// ErrNoActiveEntry: mark-valid found no valid otadata entry ("Running
	// firmware is factory", ESP_FAIL).
	ErrNoActiveEntry = errors.New("esp-ota: no active otadata entry (running firmware is factory)")
	// ErrSeqExhausted: no ota_seq below 0xFFFFFFFF selects the slot.
	ErrSeqExhausted = errors.New("esp-ota: ota_seq exhausted")
)

// Options configure the model. The zero value is ESP-IDF's usual setup.
type Options struct {
	// FactoryState makes Provision on a layout without a factory partition
	// leave otadata all-erased (ESP's factory state, as `idf.py flash`
	// leaves it) instead of writing seq 1 VALID. The first boot then boots
	// ota_0 and writes seq 1 VALID into sector 0 itself (set_actual_ota_seq).
	FactoryState bool `yaml:"factory_state" json:"factory_state"`
	// Formats are the image formats the bootloader takes; none means
	// BYFW and ESP-IDF app images.
	Formats []image.Format `yaml:"formats" json:"formats"`
	// Chip is the ESP chip ("esp32", the default; espapp.Chips) and
	// ChipRevision its revision, major × 100 + minor (0: 300, v3.0): an
	// app for another chip or outside its revision range is refused.
	Chip         string `yaml:"chip" json:"chip"`
	ChipRevision uint16 `yaml:"chip_revision" json:"chip_revision"`
	// SecureBoot is the secure boot v2 scheme apps must be signed with
	// (CONFIG_SECURE_BOOT_V2_ENABLED): "rsa-3072" or "ecdsa-p256", one the
	// chip verifies; "" (the default) is secure boot off.
	SecureBoot string `yaml:"secure_boot" json:"secure_boot"`
	// AntiRollback is CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK: an app whose
	// secure_version is below the board's security counter (the eFuse)
	// is not booted or activated, and marking an app valid raises the
	// counter to its secure_version.
	AntiRollback bool `yaml:"anti_rollback" json:"anti_rollback"`
}

// Loader is the esp-ota model. The zero value is ready to use.
type Loader struct {
	opts Options
}

var (
	_ boards.Bootloader = Loader{}
	_ boards.Bootloader = (*Loader)(nil)
)

// New returns a Loader with opts.
func New(opts Options) (*Loader, error) {
	if len(opts.Formats) == 0 {
		opts.Formats = []image.Format{image.FormatBYFW, image.FormatESPApp}
	}
	for _, f := range opts.Formats {
		if f != image.FormatBYFW && f != image.FormatESPApp {
			return nil, fmt.Errorf("esp-ota: formats: %s: the ESP-IDF bootloader boots byfw and esp-app images", f)
		}
	}
	if err := opts.espRules().Check(); err != nil {
		return nil, fmt.Errorf("esp-ota: %w", err)
	}
	return &Loader{opts: opts}, nil
}

func (o Options) espRules() espapp.Rules {
	return espapp.Rules{Chip: o.Chip, ChipRevision: o.ChipRevision, SecureBoot: o.SecureBoot, AntiRollback: o.AntiRollback}
}

// ImageRules are the formats the bootloader boots (BYFW and ESP-IDF apps
// by default) and how it checks an app: the chip, secure boot v2 and
// anti-rollback as configured.
func (l Loader) ImageRules(*boards.Board) formats.Rules {
	fs := l.opts.Formats
	if len(fs) == 0 { // the zero Loader
		fs = []image.Format{image.FormatBYFW, image.FormatESPApp}
	}
	return formats.Rules{Formats: fs, ESP: l.opts.espRules()}
}

func (Loader) Name() string    { return "esp-ota" }
func (Loader) Slots() []string { return []string{PartOTA0, PartOTA1} }

// Provision flashes the factory state. With a factory partition: img into
// factory, otadata erased (the bootloader boots factory). Without: img into
// ota_0, otadata erased, then entry seq 1 VALID programmed into sector 0
// (unless Options.FactoryState). Either way the first boot is not a trial.
func (l Loader) Provision(b *boards.Board, img *flash.Blob) error {
	pl, err := layoutOf(b)
	if err != nil {
		return err
	}
	dst := pl.ota[0]
	if pl.hasFactory {
		dst = pl.factory
	}
	if err := boards.WriteImage(b.Chip, dst, img); err != nil {
		return err
	}
	if err := boards.EraseRange(b.Chip, pl.otadata); err != nil {
		return err
	}
	if pl.hasFactory || l.opts.FactoryState {
		return nil
	}
	return b.Chip.Program(pl.entryAddr(0), NewEntry(1, StateValid).Encode())
}

// Write is esp_ota_begin + esp_ota_write: it refuses the running slot and,
// as with rollback enabled, refuses while the running app's entry is
// PENDING_VERIFY; then it erases the whole slot, as esp_ota_begin with
// OTA_SIZE_UNKNOWN does, and programs the image (boards.WriteImage).
func (Loader) Write(b *boards.Board, slot string, img *flash.Blob) error {
	pl, k, err := slotOf(b, slot)
	if err != nil {
		return err
	}
	if b.Running == nil {
		return boards.ErrNotRunning
	}
	if b.Running.Slot == slot {
		return fmt.Errorf("esp-ota: write %s: %w", slot, boards.ErrSlotRunning)
	}
	if rk := slotIndex(b.Running.Slot); rk >= 0 {
		o, err := pl.read(b.Chip)
		if err != nil {
			return err
		}
		if st, ok := o.stateOf(rk); ok && st == StatePendingVerify {
			return ErrPendingVerify
		}
	}
	return boards.WriteImage(b.Chip, pl.ota[k], img)
}

// Activate is esp_ota_set_boot_partition with rollback enabled: verify the
// image in slot, then write the entry {NextSeq(active seq, k), NEW} into
// the sector that is not active: erase it, program 32 bytes. With no valid
// entry it writes seq k+1 into sector 0. The entry keeps the seq_label
// bytes read from that sector, as ESP-IDF's rewrite_ota_seq does.
func (Loader) Activate(b *boards.Board, slot string) error {
	pl, k, err := slotOf(b, slot)
	if err != nil {
		return err
	}
	if _, err := b.VerifySlot(slot); err != nil {
		if !b.Chip.Powered() {
			return err
		}
		return fmt.Errorf("%w: %s: %w", ErrValidateFailed, slot, err)
	}
	o, err := pl.read(b.Chip)
	if err != nil {
		return err
	}
	sector, seq := 0, uint32(k+1)
	if a := o.Active(); a >= 0 {
		var ok bool
		if seq, ok = NextSeq(o[a].Seq, k); !ok {
			return fmt.Errorf("%w: active seq %d, slot %s", ErrSeqExhausted, o[a].Seq, slot)
		}
		sector = 1 - a
	}
	e := o[sector]
	e.Seq, e.State, e.CRC = seq, StateNew, SeqCRC(seq)
	return pl.rewrite(b.Chip, sector, e)
}

// Confirm is esp_ota_mark_app_valid_cancel_rollback: when the active entry
// is not VALID, set it VALID and rewrite the active sector in place (erase,
// program, same seq). That rewrite is the model's hazard: a cut after the
// erase leaves the older sector active and the next boot runs the previous
// app although this one was healthy. Then the board's security counter is
// raised to the running image's (the anti-rollback eFuse burn). As on ESP,
// the active entry is marked whichever slot is running.
func (Loader) Confirm(b *boards.Board) error {
	if b.Running == nil {
		return boards.ErrNotRunning
	}
	pl, err := layoutOf(b)
	if err != nil {
		return err
	}
	o, err := pl.read(b.Chip)
	if err != nil {
		return err
	}
	a := o.Active()
	if a < 0 {
		return ErrNoActiveEntry
	}
	if o[a].State != StateValid {
		e := o[a]
		e.State, e.CRC = StateValid, SeqCRC(e.Seq)
		if err := pl.rewrite(b.Chip, a, e); err != nil {
			return err
		}
	}
	b.RaiseSecurityCounter(b.Running.Image.SecurityCounter)
	b.Running.Trial = false
	return nil
}

// parts is a board's layout as the model uses it.
type parts struct {
	otadata    boards.Partition
	ota        [numSlots]boards.Partition
	factory    boards.Partition
	hasFactory bool
	sector     int
}

func layoutOf(b *boards.Board) (parts, error) {
	ps, err := b.Layout.Require(PartOtadata, PartOTA0, PartOTA1)
	if err != nil {
		return parts{}, fmt.Errorf("esp-ota: %w", err)
	}
	pl := parts{otadata: ps[0], ota: [numSlots]boards.Partition{ps[1], ps[2]}, sector: b.Chip.Geometry().SectorSize}
	if pl.otadata.Size != 2*pl.sector {
		return parts{}, fmt.Errorf("esp-ota: otadata is %d bytes: want two %d-byte sectors", pl.otadata.Size, pl.sector)
	}
	pl.factory, pl.hasFactory = b.Layout.Get(PartFactory)
	return pl, nil
}

func slotOf(b *boards.Board, slot string) (parts, int, error) {
	k := slotIndex(slot)
	if k < 0 {
		return parts{}, 0, fmt.Errorf("esp-ota has no slot %q: %w", slot, boards.ErrNoSuchSlot)
	}
	pl, err := layoutOf(b)
	return pl, k, err
}

// slotIndex is the ota index of a slot name, -1 for anything else.
func slotIndex(name string) int {
	switch name {
	case PartOTA0:
		return 0
	case PartOTA1:
		return 1
	}
	return -1
}

// partName is the partition of a boot index.
func (pl parts) partName(i int) string {
	if i == FactoryIndex {
		return PartFactory
	}
	return pl.ota[i].Name
}

func (pl parts) entryAddr(sector int) int { return pl.otadata.Offset + sector*pl.sector }

// read reads both entries.
func (pl parts) read(c boards.Flash) (Otadata, error) {
	var o Otadata
	buf := make([]byte, EntrySize)
	for i := range o {
		if err := c.Read(pl.entryAddr(i), buf); err != nil {
			return Otadata{}, err
		}
		o[i], _ = ParseEntry(buf)
	}
	return o, nil
}

// rewrite is ESP-IDF's write_otadata / rewrite_ota_seq: erase the sector,
// then program the 32-byte entry at its start.
func (pl parts) rewrite(c boards.Flash, sector int, e Entry) error {
	if err := c.Erase(pl.entryAddr(sector)); err != nil {
		return err
	}
	return c.Program(pl.entryAddr(sector), e.Encode())
}
