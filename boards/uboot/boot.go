package uboot

import (
	"errors"
	"fmt"
	"strings"

	"brickyard/boards"
	"brickyard/boards/image"
	"brickyard/flash"
)

// maxRuns bounds the U-Boot runs of one Boot call. Each reset after a
// failed trial boot counts one more boot, so altbootcmd ends the loop
// within bootlimit+1 runs; only an environment edited to bootlimit=0 (or
// larger than maxRuns) with a bad image loops, and the model reports that
// boot loop as Bricked.
const maxRuns = 1024

// Boot is one power-on: U-Boot runs, and runs again after each `reset` of
// ab_try_to_recover, until it boots an image or stops. See run for one
// run's steps. It returns an error only when the flash fails under one of
// its own writes (power lost); a bad environment or bad images end in a
// fallback or in Bricked with the reason.
func (l *Loader) Boot(b *boards.Board) (boards.Boot, error) {
	b.Running = nil
	var log []string
	for i := 1; i <= maxRuns; i++ {
		r, reset, err := l.run(b, &log)
		if err != nil {
			return boards.Boot{}, err
		}
		if !reset {
			r.Reason = reason(log)
			if !r.Bricked {
				b.Running = &r
			}
			return r, nil
		}
	}
	log = append(log, fmt.Sprintf("boot loop: still resetting after %d runs", maxRuns))
	return boards.Boot{Bricked: true, Reason: reason(log)}, nil
}

// reason joins a Boot's log, keeping the head and tail of a long one.
func reason(log []string) string {
	const keep = 6
	if len(log) > 2*keep+1 {
		skipped := fmt.Sprintf("… %d more …", len(log)-2*keep)
		log = append(append(log[:keep:keep], skipped), log[len(log)-keep:]...)
	}
	return strings.Join(log, "; ")
}

// run is one run of U-Boot with BOOTCOUNT_ENV and the default env's
// scripts (Mender's, see defaultEnv):
//
//  1. env_sf_load: read both copies, Select (default env if none is good)
//  2. bootcount_inc: n = upgrade_available≠0 ? bootcount : 0; n++;
//     if upgrade_available≠0: bootcount=n and saveenv (bootcount_store);
//     bootcount=n in RAM either way
//  3. bootcount_error: bootlimit≠0 && bootcount>bootlimit ⇒ altbootcmd:
//     ab_altbootcmd toggles boot_part (A ⇒ B, anything else ⇒ A), sets
//     upgrade_available=0, saveenv, runs ab_setup; then bootcmd
//  4. bootcmd: ab_setup (saveenv_canary≠"1" ⇒ set it and saveenv), then
//     verify and boot boot_part's image (reads only)
//  5. on failure ab_try_to_recover: upgrade_available="1" ⇒ reset (another
//     run, which counts again); otherwise U-Boot stops at its prompt: Bricked
//
// A saveenv that fails for another reason than a power cut is logged and
// the run goes on, as U-Boot's callers ignore its result.
func (l *Loader) run(b *boards.Board, log *[]string) (r boards.Boot, reset bool, err error) {
	s, sel, err := l.open(b)
	if err != nil {
		return r, false, err
	}
	if sel.Copy == CopyNone {
		*log = append(*log, fmt.Sprintf("env copy 1: %v; env copy 2: %v; using default environment (boot_part=%s)",
			sel.Errs[0], sel.Errs[1], s.env.Get(VarBootPart)))
	}
	save := func(why string) error {
		err := s.saveenv()
		if err != nil && (errors.Is(err, flash.ErrPowerLost) || !b.Chip.Powered()) {
			return err
		}
		if err != nil {
			*log = append(*log, fmt.Sprintf("%s: %v", why, err))
		}
		return nil
	}

	trial := s.env.Ulong(VarUpgradeAvailable) != 0
	var n uint64
	if trial {
		n = s.env.Ulong(VarBootCount)
	}
	n++
	s.env.setUlong(VarBootCount, n)
	if trial {
		if err := save("bootcount"); err != nil {
			return r, false, err
		}
	}

	fell := false
	if limit := s.env.Ulong(VarBootLimit); limit != 0 && n > limit {
		from, to := s.env.Get(VarBootPart), SlotA
		if from == SlotA {
			to = SlotB
		}
		*log = append(*log, fmt.Sprintf("bootcount %d > bootlimit %d: altbootcmd switches boot_part %s to %s", n, limit, from, to))
		s.env.set(VarBootPart, to)
		s.env.set(VarUpgradeAvailable, "0")
		if err := save("altbootcmd"); err != nil {
			return r, false, err
		}
		if err := l.setup(s, save); err != nil {
			return r, false, err
		}
		fell = true
	}
	if err := l.setup(s, save); err != nil {
		return r, false, err
	}

	slot := s.env.Get(VarBootPart)
	h, verr := l.verify(b, slot, s.env.Get(VarBootConf))
	if verr == nil {
		return boards.Boot{Slot: slot, Image: h, Trial: s.env.Ulong(VarUpgradeAvailable) != 0, FellBack: fell}, false, nil
	}
	if !b.Chip.Powered() {
		return r, false, verr
	}
	*log = append(*log, fmt.Sprintf("slot %s: %v", slot, verr))
	if s.env.Get(VarUpgradeAvailable) == "1" {
		*log = append(*log, "upgrade_available=1: reset")
		return r, true, nil
	}
	*log = append(*log, "bootcmd failed with upgrade_available="+s.env.Get(VarUpgradeAvailable)+": U-Boot stays at its prompt")
	return boards.Boot{Bricked: true}, false, nil
}

// setup is ab_setup: save once so the updater can tell that U-Boot can.
func (l *Loader) setup(s *session, save func(string) error) error {
	if s.env.Get(VarCanary) == "1" {
		return nil
	}
	s.env.set(VarCanary, "1")
	return save("saveenv canary")
}

// verify is bootcmd's load: the image in the slot boot_part names must
// verify (boards.Board.VerifySlotWith by the loader's rules), a FIT in
// the configuration bootconf names (its default when unset); a
// boot_part that names no slot fails.
func (l *Loader) verify(b *boards.Board, slot, conf string) (image.Info, error) {
	if slot != SlotA && slot != SlotB {
		return image.Info{}, fmt.Errorf("boot_part %q names no slot", slot)
	}
	r := l.ImageRules(b)
	r.FIT.Config = conf
	return b.VerifySlotWith(slot, r)
}
