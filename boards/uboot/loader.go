package uboot

import (
	"fmt"

	"brickyard/boards"
	"brickyard/boards/image/fit"
	"brickyard/boards/image/formats"
	"brickyard/flash"
)

// Name is the model's name in board profiles.
const Name = "uboot-ab"

// Loader is the uboot-ab model. It holds configuration only and is shared
// by every board that uses it; the zero value is not usable, call New.
type Loader struct {
	opt Options // defaults filled in
}

var _ boards.Bootloader = (*Loader)(nil)

// New returns a Loader for o, or the first thing wrong with o.
func New(o Options) (*Loader, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Loader{opt: o.withDefaults()}, nil
}

// Options returns the loader's options with defaults filled in.
func (l *Loader) Options() Options { return l.opt }

// DefaultEnv returns the compiled-in default environment, the one U-Boot
// uses when neither copy is good: boot_part=A, bootlimit set,
// upgrade_available=0. It is an uncontrolled switch to slot A.
func (l *Loader) DefaultEnv() Env { return defaultEnv(l.opt.BootLimit, l.opt.BootConf) }

// ImageRules are the formats bootcmd boots (BYFW and FIT by default) and
// how it checks a FIT: the default configuration, a signature when
// Options.FITSignature asks for one, the kernel's architecture. Boot
// names the configuration from the environment's bootconf.
func (l *Loader) ImageRules(*boards.Board) formats.Rules {
	r := formats.Rules{Formats: l.opt.Formats, FIT: fit.Rules{Arch: l.opt.Arch}}
	switch l.opt.FITSignature {
	case FITSignatureRequired:
		r.FITSignature = formats.Signed
	case FITSignatureNone:
		r.FITSignature = formats.Unsigned
	}
	return r
}

func (l *Loader) Name() string    { return Name }
func (l *Loader) Slots() []string { return []string{SlotA, SlotB} }

// LoadEnv reads both copies from b's chip and returns what U-Boot would
// load now. It performs no operations.
func (l *Loader) LoadEnv(b *boards.Board) (Selection, error) {
	_, sel, err := l.open(b)
	return sel, err
}

// Provision writes slot A with img (boards.WriteImage), then saves the
// factory environment (the default one with saveenv_canary=1, as Mender's
// first boot leaves it) twice through saveenv, so that both copies are good:
// the first save lands in copy 1, the second in copy 2.
func (l *Loader) Provision(b *boards.Board, img *flash.Blob) error {
	p, err := l.slot(b, SlotA)
	if err != nil {
		return err
	}
	if err := boards.WriteImage(b.Chip, p, img); err != nil {
		return err
	}
	s, _, err := l.open(b)
	if err != nil {
		return err
	}
	s.env = l.DefaultEnv()
	s.env.set(VarCanary, "1")
	for range 2 {
		if err := s.saveenv(); err != nil {
			return err
		}
	}
	return nil
}

// Write stores img in slot with boards.WriteImage (erase the slot, then
// program the image). It refuses the slot that is running.
func (l *Loader) Write(b *boards.Board, slot string, img *flash.Blob) error {
	p, err := l.slot(b, slot)
	if err != nil {
		return err
	}
	if b.Running != nil && b.Running.Slot == slot {
		return fmt.Errorf("uboot-ab: write slot %s: %w", slot, boards.ErrSlotRunning)
	}
	return boards.WriteImage(b.Chip, p, img)
}

// Activate is the updater's one env write (fw_setenv script mode):
// {boot_part=slot, upgrade_available=1, bootcount=0}, saved through
// saveenv. It refuses the running slot: a trial of it would make the
// other slot the rollback target.
func (l *Loader) Activate(b *boards.Board, slot string) error {
	if _, err := l.slot(b, slot); err != nil {
		return err
	}
	if b.Running != nil && b.Running.Slot == slot {
		return fmt.Errorf("uboot-ab: activate slot %s: %w", slot, boards.ErrSlotRunning)
	}
	s, _, err := l.open(b)
	if err != nil {
		return err
	}
	s.env.set(VarBootPart, slot)
	s.env.set(VarUpgradeAvailable, "1")
	s.env.set(VarBootCount, "0")
	return s.saveenv()
}

// Confirm is the client's commit of the running trial image: one env
// write {upgrade_available=0, bootcount=0} through saveenv, and then, once
// that write is complete, the board's security counter is raised to the
// image's.
func (l *Loader) Confirm(b *boards.Board) error {
	switch {
	case b.Running == nil:
		return fmt.Errorf("uboot-ab: confirm: %w", boards.ErrNotRunning)
	case !b.Running.Trial:
		return fmt.Errorf("uboot-ab: confirm slot %s: %w", b.Running.Slot, boards.ErrNotTrial)
	}
	s, _, err := l.open(b)
	if err != nil {
		return err
	}
	s.env.set(VarUpgradeAvailable, "0")
	s.env.set(VarBootCount, "0")
	if err := s.saveenv(); err != nil {
		return err
	}
	b.RaiseSecurityCounter(b.Running.Image.SecurityCounter)
	return nil
}

// slot returns the partition of an image slot.
func (l *Loader) slot(b *boards.Board, slot string) (boards.Partition, error) {
	if slot != SlotA && slot != SlotB {
		return boards.Partition{}, fmt.Errorf("uboot-ab has no slot %q: %w", slot, boards.ErrNoSuchSlot)
	}
	ps, err := b.Layout.Require(slot)
	if err != nil {
		return boards.Partition{}, fmt.Errorf("uboot-ab: %w", err)
	}
	return ps[0], nil
}
