package device

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"brickyard/usp"
	"brickyard/usp/dm"
)

// activation is a FirmwareImage.{i}.Activate() waiting for a window it
// can use.
type activation struct {
	job     uint64
	row     int
	key     string
	timer   TimerID
	at      time.Time // the invocation: window offsets count from it
	windows []window
	w       int  // the window being tried
	prompts int  // ConfirmationNeeded: prompts shown in this window
	asking  bool // a prompt is on the screen, awaiting the user
}

// window is one TimeWindow argument of Activate(): offsets in seconds
// from the invocation.
type window struct {
	num        int
	start, end uint64
	mode       string
	message    string // UserMessage
	maxRetries int
}

// Activate() window modes.
const (
	modeAnyTime      = "AnyTime"
	modeImmediately  = "Immediately"
	modeWhenIdle     = "WhenIdle"
	modeConfirmation = "ConfirmationNeeded"
)

// parseWindows reads the flattened TimeWindow.{i}.* arguments, in instance
// order, and checks them: at most MaxTimeWindows, Start ≤ End, a known
// Mode, MaxRetries in −1..10, and no overlap (each window starts at or
// after the end of the one before). Failures wrap 7027.
func parseWindows(in map[string]string) ([]window, error) {
	bad := func(format string, args ...any) ([]window, error) {
		return nil, usp.Errorf(usp.InvalidCommandArguments, format, args...)
	}
	byNum := map[int]*window{}
	for k, v := range in {
		rest, ok := strings.CutPrefix(k, "TimeWindow.")
		if !ok {
			continue
		}
		ns, field, ok := strings.Cut(rest, ".")
		n, err := strconv.Atoi(ns)
		if !ok || err != nil || n < 1 {
			return bad("bad argument %q", clip(k, 64))
		}
		w := byNum[n]
		if w == nil {
			if len(byNum) == MaxTimeWindows {
				return bad("more than %d TimeWindow instances", MaxTimeWindows)
			}
			w = &window{num: n, maxRetries: -1}
			byNum[n] = w
		}
		switch field {
		case "Start", "End":
			u, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return bad("TimeWindow.%d.%s %q is not an unsignedInt", n, field, clip(v, 32))
			}
			if field == "Start" {
				w.start = u
			} else {
				w.end = u
			}
		case "Mode":
			switch v {
			case modeAnyTime, modeImmediately, modeWhenIdle, modeConfirmation:
				w.mode = v
			default:
				return bad("TimeWindow.%d.Mode %q: want AnyTime, Immediately, WhenIdle or ConfirmationNeeded", n, clip(v, 32))
			}
		case "UserMessage":
			w.message = clip(v, 1024)
		case "MaxRetries":
			r, err := strconv.Atoi(v)
			if err != nil || r < -1 || r > 10 {
				return bad("TimeWindow.%d.MaxRetries %q: want an int in -1..10", n, clip(v, 32))
			}
			w.maxRetries = r
		}
	}
	if len(byNum) == 0 {
		return bad("at least one TimeWindow is required")
	}
	ws := make([]window, 0, len(byNum))
	for _, w := range byNum {
		ws = append(ws, *w)
	}
	slices.SortFunc(ws, func(a, b window) int { return a.num - b.num })
	for i, w := range ws {
		switch {
		case w.mode == "":
			return bad("TimeWindow.%d.Mode is missing", w.num)
		case w.end < w.start:
			return bad("TimeWindow.%d ends (%d s) before it starts (%d s)", w.num, w.end, w.start)
		case i > 0 && w.start < ws[i-1].end:
			return bad("TimeWindow.%d overlaps TimeWindow.%d", w.num, ws[i-1].num)
		}
	}
	return ws, nil
}

// acceptActivate vets an Activate(): 7027 for bad windows; 7022 for a row
// that is already active or holds no image ready to boot (Status
// Available, or ActivationFailed for a retry, and Available true); 7005
// while another activation waits.
func acceptActivate(c dm.Ctx, in map[string]string) error {
	d := dev(c)
	i := int(c.Num()) - 1
	if _, err := parseWindows(in); err != nil {
		return err
	}
	if err := d.activatable(c.Now, i); err != nil {
		return err
	}
	if len(d.activations) > 0 {
		return usp.Errorf(usp.ResourcesExceeded, "another activation is pending")
	}
	return nil
}

// activatable reports why row i cannot be activated now, if it cannot.
func (d *Device) activatable(now time.Time, i int) error {
	if i < 0 || i >= len(d.slots) {
		return usp.Errorf(usp.CommandFailure, "no such firmware image row")
	}
	st, _ := d.m.Value(rowPath(i)+"Status", now)
	av, _ := d.m.Value(rowPath(i)+"Available", now)
	switch {
	case st == stActive:
		return usp.Errorf(usp.CommandFailure, "%s is already the active image", rowRef(i))
	case st != stAvailable && st != stActivationFailed:
		return usp.Errorf(usp.CommandFailure, "%s holds no image ready to activate (Status %s)", rowRef(i), st)
	case av != "true":
		return usp.Errorf(usp.CommandFailure, "%s is not Available", rowRef(i))
	}
	return nil
}

// startActivate schedules an accepted Activate(): its windows are tried
// in order (activation.go's rules, docs/device.md).
func (d *Device) startActivate(now time.Time, j dm.Job) {
	ws, err := parseWindows(j.Input)
	i := int(j.Nums[0]) - 1
	if err != nil {
		d.event(now, EvActivateFailed, "row=%d: %v", i+1, err)
		fx, _ := d.m.Complete(j.ID, nil, err, now)
		d.apply(now, fx)
		return
	}
	a := &activation{job: j.ID, row: i, key: j.Key, at: now, windows: ws, timer: timerWindow + TimerID(d.nextSeq())}
	d.activations = append(d.activations, a)
	w := ws[0]
	d.event(now, EvActivatePending, "row=%d window=%d mode=%s in=%ds", i+1, w.num, w.mode, w.start)
	d.setTimer(a.timer, a.start(0))
}

// start and end are window k's bounds in time.
func (a *activation) start(k int) time.Time {
	return a.at.Add(time.Duration(a.windows[k].start) * time.Second)
}
func (a *activation) end(k int) time.Time {
	return a.at.Add(time.Duration(a.windows[k].end) * time.Second)
}

// The simulated user's timing for ConfirmationNeeded windows.
const (
	promptTimeout = time.Minute // an unanswered prompt is given up after this long
	promptRetry   = time.Minute // a declined or unanswered prompt is shown again after this long
)

// window runs the activation whose timer fired: in its current window it
// activates (Immediately, AnyTime; WhenIdle once the device is idle;
// ConfirmationNeeded once the user confirms), or waits within the window,
// or gives the window up for the next one. Past the last window the
// command fails (7022) and nothing reboots.
func (d *Device) window(now time.Time, id TimerID) {
	k := slices.IndexFunc(d.activations, func(a *activation) bool { return a.timer == id })
	if k < 0 {
		return
	}
	a := d.activations[k]
	for a.w < len(a.windows) {
		w := a.windows[a.w]
		start, end := a.start(a.w), a.end(a.w)
		if now.Before(start) {
			d.setTimer(a.timer, start)
			return
		}
		if now.After(end) {
			d.event(now, EvActivatePending, "row=%d window=%d missed: %s", a.row+1, w.num, a.missed(w))
			a.next()
			continue
		}
		switch w.mode {
		case modeImmediately, modeAnyTime:
			d.runActivation(now, k)
			return
		case modeWhenIdle:
			u, up := d.usage(), d.up(now)
			idle := d.bootAt.Add(time.Duration(u.idleAt(up) * float64(time.Second)))
			if !idle.After(now) {
				d.runActivation(now, k)
				return
			}
			if !idle.After(end) {
				d.setTimer(a.timer, idle)
				return
			}
			d.event(now, EvActivatePending, "row=%d window=%d missed: the device is busy until after its end", a.row+1, w.num)
			a.next()
		case modeConfirmation:
			switch d.confirm(now, a, w, end) {
			case confirmed:
				d.runActivation(now, k)
				return
			case gaveUp:
				a.next()
				continue
			}
			return
		}
	}
	d.activations = slices.Delete(d.activations, k, k+1)
	d.setTimer(a.timer, time.Time{})
	err := usp.Errorf(usp.CommandFailure, "no time window could be used (%d tried)", len(a.windows))
	d.event(now, EvActivateFailed, "row=%d: %v", a.row+1, err)
	fx, _ := d.m.Complete(a.job, nil, err, now)
	d.apply(now, fx)
}

func (a *activation) next() { a.w, a.prompts, a.asking = a.w+1, 0, false }

func (a *activation) missed(w window) string {
	if w.mode == modeConfirmation {
		return "the user did not confirm"
	}
	return "the device was not running"
}

// confirm runs a ConfirmationNeeded window: it shows the UserMessage, and
// the simulated user (Config.User) answers after User.After — declining
// the first User.Declines prompts, then as User.Answer says. A declined or
// unanswered prompt (given up after a minute) is shown again a minute
// later while MaxRetries allows (−1: until the window ends). It reports
// confirmed when the user confirmed now, gaveUp when MaxRetries is
// spent, waiting (the timer set) otherwise.
func (d *Device) confirm(now time.Time, a *activation, w window, end time.Time) confirmation {
	u := d.cfg.user()
	if !a.asking {
		if w.maxRetries >= 0 && a.prompts > w.maxRetries {
			d.event(now, EvActivatePending, "row=%d window=%d missed: no confirmation after %d prompts", a.row+1, w.num, a.prompts)
			return gaveUp
		}
		a.prompts++
		a.asking = true
		d.event(now, EvUserPrompt, "row=%d window=%d prompt=%d message=%q", a.row+1, w.num, a.prompts, w.message)
		answerAt := now.Add(u.After)
		if u.Answer == UserSilent && int(d.userAnswers) >= u.Declines {
			answerAt = now.Add(promptTimeout)
		}
		d.setTimer(a.timer, minTime(answerAt, end))
		return waiting
	}
	// The answer (or the timeout) is due.
	a.asking = false
	if d.userAnswers < 1<<15 {
		d.userAnswers++
	}
	switch {
	case int(d.userAnswers) <= u.Declines || u.Answer == UserDecline:
		d.event(now, EvUserPrompt, "row=%d window=%d prompt=%d declined", a.row+1, w.num, a.prompts)
	case u.Answer == UserSilent:
		d.event(now, EvUserPrompt, "row=%d window=%d prompt=%d unanswered", a.row+1, w.num, a.prompts)
	default:
		d.event(now, EvUserPrompt, "row=%d window=%d prompt=%d confirmed", a.row+1, w.num, a.prompts)
		return confirmed
	}
	d.setTimer(a.timer, minTime(now.Add(promptRetry), end.Add(time.Nanosecond)))
	return waiting
}

type confirmation uint8

const (
	waiting confirmation = iota
	confirmed
	gaveUp
)

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// runActivation activates activation k now: Loader.Activate, then
// OperationComplete (before the reboot, G17), then the reboot.
func (d *Device) runActivation(now time.Time, k int) {
	a := d.activations[k]
	d.activations = slices.Delete(d.activations, k, k+1)
	d.setTimer(a.timer, time.Time{})
	err := d.activatable(now, a.row)
	if err == nil {
		err = d.activate(now, a.row, a.key)
		if d.state != On {
			return
		}
	}
	if err != nil {
		d.event(now, EvActivateFailed, "row=%d: %v", a.row+1, err)
		fx, _ := d.m.Complete(a.job, nil, usp.Errorf(usp.CommandFailure, "activation failed: %v", err), now)
		d.apply(now, fx)
		return
	}
	fx, _ := d.m.Complete(a.job, nil, nil, now)
	d.apply(now, fx)
	d.restart(now, restartReq{cause: "RemoteReboot", reason: "Activate()", key: a.key})
}

// activate asks the bootloader to boot row i next (on trial where the
// loader has trials) and records, in the non-volatile store, what the
// next boot is expected to run. BootFirmwareImage becomes row i.
func (d *Device) activate(now time.Time, i int, key string) error {
	slot := d.slots[i]
	h, err := d.board.VerifySlot(slot)
	if err != nil {
		return fmt.Errorf("%s holds no valid image: %w", slot, err)
	}
	if err := d.board.Loader.Activate(d.board, slot); err != nil {
		if d.board.Chip.Powered() {
			return err
		}
		if d.inHandler {
			d.cut = true // the handler's caller handles the loss
			return err
		}
		d.powerLost(now, "activate", err)
		return err
	}
	d.nv.target, d.nv.targetVer, d.nv.key, d.nv.bootReq = i+1, h.VersionString(), key, false
	d.setValue(now, pathBootFW, rowRef(i))
	d.event(now, EvActivate, "row=%d slot=%s version=%s", i+1, slot, h.VersionString())
	return nil
}

// replacedInPlace reports whether row i, the running one, now holds
// another image than the one that runs: a single-bank board's Download()
// writes over the running image, and its Reboot() is what activates it.
func (d *Device) replacedInPlace(i int) bool {
	h, err := d.board.VerifySlot(d.slots[i])
	return err == nil && h.VersionString() != d.nv.good.version
}

// activateBootImage is procedure A inside Reboot(): the row a controller
// set as BootFirmwareImage is activated.
func (d *Device) activateBootImage(c dm.Ctx) error {
	v, _ := c.Model.Value(pathBootFW, c.Now)
	i, ok := rowIndex(v)
	if !ok || i >= len(d.slots) || (i == d.running && !d.replacedInPlace(i)) {
		d.nv.bootReq = false
		return nil
	}
	d.inHandler = true
	err := d.activate(c.Now, i, c.CommandKey)
	d.inHandler = false
	if err != nil {
		return usp.Errorf(usp.CommandFailure, "cannot boot %s: %v", v, err)
	}
	return nil
}
