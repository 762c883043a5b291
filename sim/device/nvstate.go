package device

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// A device's non-volatile store as bytes, for a farm that stops and
// starts again with the same devices (brickyard fleet --state-dir). It is
// what survives a power cut (nv.go): taken from a running device, the
// data model's persistent part is its live model's, exactly as a power
// cut at that moment would keep it; the restarted device boots as after
// one (Boot! Cause LocalReboot, "power loss"). The flash chip and the
// board's security counter are the shell's to keep (flash.Chip.AppendState).
//
//	state := "BYDV" 0x01 uvarint(n) field*n
//	field := uvarint(tag) uvarint(len) bytes
//
// Unknown tags are skipped, so a later version's state loads.

const stateMagic = "BYDV\x01"

// ErrState is wrapped by every error of LoadState.
var ErrState = errors.New("device: bad state")

// State tags.
const (
	stModel uint64 = iota + 1
	stSeq
	stGoodSlot
	stGoodVersion
	stTarget
	stTargetVer
	stCause
	stReason
	stKey
	stFailLog
	stFlags // booted, bootReq
	stFirstUse
	stUsed
	stUserAnswers
)

// AppendState appends the device's non-volatile state at now to b.
func (d *Device) AppendState(b []byte, now time.Time) []byte {
	model := d.nv.model
	if d.state == On && d.m != nil {
		model = d.m.Snapshot()
	}
	type field struct {
		tag uint64
		v   []byte
	}
	u := func(x uint64) []byte { return binary.AppendUvarint(nil, x) }
	flags := uint64(0)
	if d.nv.booted {
		flags |= 1
	}
	if d.nv.bootReq {
		flags |= 2
	}
	fields := []field{{stModel, model}, {stSeq, u(d.nv.seq)}, {stGoodSlot, []byte(d.nv.good.slot)}, {stGoodVersion, []byte(d.nv.good.version)},
		{stTarget, u(uint64(d.nv.target))}, {stTargetVer, []byte(d.nv.targetVer)}, {stCause, []byte(d.nv.cause)}, {stReason, []byte(d.nv.reason)},
		{stKey, []byte(d.nv.key)}, {stFailLog, []byte(d.nv.failLog)}, {stFlags, u(flags)}, {stFirstUse, binary.AppendVarint(nil, d.nv.firstUse)},
		{stUsed, u(uint64(d.used))}, {stUserAnswers, u(uint64(d.userAnswers))}}
	b = append(b, stateMagic...)
	b = binary.AppendUvarint(b, uint64(len(fields)))
	for _, f := range fields {
		b = binary.AppendUvarint(b, f.tag)
		b = binary.AppendUvarint(b, uint64(len(f.v)))
		b = append(b, f.v...)
	}
	return b
}

// maxStateField bounds one field of a state: the model snapshot is the
// largest, a few KiB.
const maxStateField = 16 << 20

// LoadState gives a device that is off the state AppendState saved: its
// next PowerOn boots from it. The device's cause of the next boot, if the
// state names none, is a power loss.
func (d *Device) LoadState(data []byte) error {
	if d.state == On {
		return fmt.Errorf("%w: the device is on", ErrState)
	}
	rest, ok := bytes.CutPrefix(data, []byte(stateMagic))
	if !ok {
		return fmt.Errorf("%w: not a device state (magic)", ErrState)
	}
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return 0, false
		}
		rest = rest[n:]
		return v, true
	}
	n, ok := next()
	if !ok || n > 64 {
		return fmt.Errorf("%w: %d fields", ErrState, n)
	}
	var nv nvState
	used, answers := d.used, d.userAnswers
	for range n {
		tag, ok1 := next()
		l, ok2 := next()
		if !ok1 || !ok2 || l > maxStateField || l > uint64(len(rest)) {
			return fmt.Errorf("%w: truncated field", ErrState)
		}
		v := rest[:l]
		rest = rest[l:]
		num := func() (uint64, error) {
			x, k := binary.Uvarint(v)
			if k <= 0 || k != len(v) {
				return 0, fmt.Errorf("%w: field %d is not a number", ErrState, tag)
			}
			return x, nil
		}
		var err error
		var x uint64
		switch tag {
		case stModel:
			if len(v) > 0 {
				nv.model = bytes.Clone(v)
			}
		case stSeq:
			nv.seq, err = num()
		case stGoodSlot:
			nv.good.slot = string(v)
		case stGoodVersion:
			nv.good.version = string(v)
		case stTarget:
			x, err = num()
			if x > uint64(len(d.slots)) {
				err = fmt.Errorf("%w: activation target row %d of %d", ErrState, x, len(d.slots))
			}
			nv.target = int(x)
		case stTargetVer:
			nv.targetVer = string(v)
		case stCause:
			nv.cause = string(v)
		case stReason:
			nv.reason = string(v)
		case stKey:
			nv.key = string(v)
		case stFailLog:
			nv.failLog = string(v)
		case stFlags:
			x, err = num()
			nv.booted, nv.bootReq = x&1 != 0, x&2 != 0
		case stFirstUse:
			t, k := binary.Varint(v)
			if k <= 0 || k != len(v) {
				err = fmt.Errorf("%w: first use", ErrState)
			}
			nv.firstUse = t
		case stUsed:
			x, err = num()
			used = uint8(x)
		case stUserAnswers:
			x, err = num()
			answers = uint16(min(x, 1<<15))
		}
		if err != nil {
			return err
		}
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d bytes after the fields", ErrState, len(rest))
	}
	d.nv, d.used, d.userAnswers = nv, used, answers
	return nil
}
