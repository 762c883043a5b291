package dm

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
	pb "brickyard/usp/uspmsg"
)

// The device's side of the model. These calls bypass Controller access
// rules (a read-only parameter or table is the device's to change) but
// keep types, unique keys and instance numbering, and they notify
// subscribers exactly as a Controller's request would: a device-side
// change is indistinguishable from a real agent's. Paths are instantiated
// paths; search paths are allowed where several targets make sense.
// Errors wrap a usp.Code.

// Value reads a parameter: "Device.DeviceInfo.FirmwareImage.2.Status".
func (m *Model) Value(p string, now time.Time) (string, error) {
	ts, pp, err := m.paramTargets(p, now)
	if err != nil {
		return "", err
	}
	return m.read(pp, ts[0].r, now), nil
}

// SetValue stores a value (into every parameter a search path matches)
// and notifies ValueChange subscribers when it changed. A parameter bound
// with a Getter cannot be stored: report its changes with Changed.
func (m *Model) SetValue(p, v string, now time.Time) (Effects, error) {
	m.begin()
	ts, pp, err := m.paramTargets(p, now)
	if err == nil && pp.get != nil {
		err = fmt.Errorf("%s is bound to a Getter: use Changed: %w", p, usp.ParameterNotWritable)
	}
	var canon string
	if err == nil {
		canon, err = pp.canon(v, m.s.opts.MaxValueLen)
	}
	if err != nil {
		return m.end(), err
	}
	for _, t := range ts {
		m.setInternal(t.r, pp, canon, now)
	}
	return m.end(), nil
}

// setInternal stores v and notifies the change, if any.
func (m *Model) setInternal(r *row, p *Param, v string, now time.Time) {
	old := m.read(p, r, now)
	m.put(r, p, v)
	if old != v {
		m.valueChanged(p, r, v, now)
	}
}

// Changed tells the engine that bound parameters (every one a search path
// matches) have a new value: ValueChange subscribers get the value the
// Getter returns now.
func (m *Model) Changed(p string, now time.Time) (Effects, error) {
	m.begin()
	ts, pp, err := m.paramTargets(p, now)
	if err != nil {
		return m.end(), err
	}
	for _, t := range ts {
		m.valueChanged(pp, t.r, m.read(pp, t.r, now), now)
	}
	return m.end(), nil
}

// AddRow creates a row of the table at tablePath (the table's instantiated
// path without instance: "Device.DeviceInfo.FirmwareImage.") with
// instance number num (0: the next free one; a taken number is 7025) and
// the given values (relative names), whatever the table's access. It
// returns the row's path ("Device.DeviceInfo.FirmwareImage.1.") and
// notifies ObjectCreation. Alias is filled in when not given.
func (m *Model) AddRow(tablePath string, num uint32, values map[string]string, now time.Time) (string, Effects, error) {
	m.begin()
	r, err := m.addRowInternal(tablePath, num, values, now)
	if err != nil {
		return "", m.end(), err
	}
	m.objectCreated(r, now)
	return objPath(r.obj, r), m.end(), nil
}

func (m *Model) addRowInternal(tablePath string, num uint32, values map[string]string, now time.Time) (*row, error) {
	p, err := m.parsePath(tablePath)
	if err != nil {
		return nil, err
	}
	if p.Kind() != path.Object {
		return nil, fmt.Errorf("%s is not a table path: %w", tablePath, usp.ObjectNotATable)
	}
	ts, _, err := m.resolve(p, p.Len(), now)
	if err != nil {
		return nil, err
	}
	if len(ts) != 1 || !ts[0].table {
		return nil, fmt.Errorf("%s does not name one existing table: %w", tablePath, usp.ObjectNotATable)
	}
	t, parent := ts[0].o, ts[0].r
	if err := m.roomIn(t, parent); err != nil {
		return nil, err
	}
	if num == 0 {
		num = m.nextNum(t, parent)
	} else if m.findRow(t, parent, num) != nil {
		return nil, fmt.Errorf("%s%d. exists: %w", tablePath, num, usp.DuplicateKey)
	}
	type val struct {
		p *Param
		v string
	}
	var vals []val
	for rel, v := range values {
		pp := t.paramRel(rel)
		if pp == nil {
			return nil, fmt.Errorf("%s has no parameter %s: %w", t.path, rel, usp.UnsupportedParameter)
		}
		if pp.get != nil {
			return nil, fmt.Errorf("%s is bound to a Getter: %w", rel, usp.ParameterNotWritable)
		}
		c, err := pp.canon(v, m.s.opts.MaxValueLen)
		if err != nil {
			return nil, err
		}
		vals = append(vals, val{pp, c})
	}
	r := m.insertRow(t, parent, num)
	for _, v := range vals {
		m.put(r, v.p, v.v)
	}
	m.fillKeys(r, now)
	if p, other := m.keyClash(t, r, now); p != nil {
		m.removeRow(r)
		return nil, fmt.Errorf("%s: unique key %s equals that of %s: %w", t.path, p.name, other, usp.DuplicateKey)
	}
	return r, nil
}

// DeleteRow deletes the rows an instance (or search) path addresses,
// whatever the table's access, notifying ObjectDeletion for each and for
// every row below them.
func (m *Model) DeleteRow(p string, now time.Time) (Effects, error) {
	m.begin()
	pp, err := m.parsePath(p)
	if err != nil {
		return m.end(), err
	}
	if pp.Kind() != path.Object {
		return m.end(), invalidPath(p, "not an object instance path")
	}
	ts, _, err := m.resolve(pp, pp.Len(), now)
	if err != nil {
		return m.end(), err
	}
	for _, t := range ts {
		if t.table || !t.o.table {
			return m.end(), fmt.Errorf("%s is not an object instance: %w", p, usp.ObjectNotATable)
		}
	}
	for _, t := range ts {
		if m.alive(t.r) {
			m.deleteRow(t.r, now)
		}
	}
	return m.end(), nil
}

// Instances lists the instance paths an object path addresses, in order:
// Instances("Device.DeviceInfo.FirmwareImage.") or a search path.
func (m *Model) Instances(p string, now time.Time) ([]string, error) {
	pp, err := m.parsePath(p)
	if err != nil {
		return nil, err
	}
	if pp.Kind() != path.Object {
		return nil, invalidPath(p, "not an object path")
	}
	ts, _, err := m.resolve(pp, pp.Len(), now)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range ts {
		if t.table {
			for _, r := range m.rowsOf(t.o, t.r) {
				out = append(out, objPath(t.o, r))
			}
		} else {
			out = append(out, objPath(t.o, t.r))
		}
	}
	return out, nil
}

// Event fires the event at an event path ("Device.Boot!",
// "Device.LocalAgent.TransferComplete!") with the same arguments for
// every subscriber.
func (m *Model) Event(p string, args map[string]string, now time.Time) (Effects, error) {
	return m.EventFor(p, func(string) map[string]string { return args }, now)
}

// EventFor fires an event whose arguments depend on the recipient: args
// is called with each matching subscription's Recipient (a Controller
// row), as Boot!'s ParameterMap needs (see ParameterMap).
func (m *Model) EventFor(p string, args func(controller string) map[string]string, now time.Time) (Effects, error) {
	m.begin()
	pp, err := m.parsePath(p)
	if err != nil {
		return m.end(), err
	}
	if pp.Kind() != path.Event {
		return m.end(), invalidPath(p, "not an event path")
	}
	ts, _, err := m.resolve(pp, pp.Len()-1, now)
	if err != nil {
		return m.end(), err
	}
	for _, t := range ts {
		e := t.o.eventBy[pp.Name()+"!"]
		if e == nil || t.table {
			return m.end(), invalidPath(p, "%s has no event %s!", t.o.path, pp.Name())
		}
		m.event(e, t.r, args, now)
	}
	return m.end(), nil
}

// SendNotify sends a notification that belongs to no subscription — an
// OnBoardRequest (usp.OnBoardRequest) — to a Controller; with
// n.SendResp it is retried like a subscription's, and never expires
// (R-NOT.6a).
func (m *Model) SendNotify(to Origin, n *pb.Notify, now time.Time) Effects {
	m.begin()
	if to.Controller == "" {
		to.Controller = m.controllerOf(to.EndpointID, now)
	}
	msg := m.newNotify(n)
	m.effects().Notify = append(m.effects().Notify, Notification{To: to.EndpointID, Controller: to.Controller, Msg: msg})
	if n.GetSendResp() {
		p := newPending(msg)
		p.to, p.ctrl = to.EndpointID, to.Controller
		m.hold(p, now)
	}
	return m.end()
}

// ParameterMap is Boot!'s ParameterMap argument for one Controller (a
// Controller row path, as EventFor passes it): a JSON object mapping the
// full path of every parameter named by the Controller's enabled
// BootParameter rows (ParameterName may be a search path or an object
// path; ones matching nothing are skipped) to its value. It is "{}" when
// the schema has no Controller.{i}.BootParameter.{i}. table.
func (m *Model) ParameterMap(controller string, now time.Time) string {
	out := map[string]string{}
	r := m.controllerRow(controller, now)
	if r != nil && m.s.trust != nil { // only what the recipient may read
		a := m.accessFor(Origin{EndpointID: m.read(m.s.ctrl.endpoint, r, now), Controller: controller}, now)
		if a != nil && a.refused != "" {
			return "{}"
		}
		defer m.enter(m.enter(a))
	}
	bp := (*Object)(nil)
	if r != nil {
		bp = m.s.ctrl.table.childBy["BootParameter"]
	}
	if bp != nil && bp.table && bp.paramBy["Enable"] != nil && bp.paramBy["ParameterName"] != nil {
		for _, b := range m.rowsOf(bp, r) {
			if m.read(bp.paramBy["Enable"], b, now) != "true" {
				continue
			}
			name := strings.TrimSpace(m.read(bp.paramBy["ParameterName"], b, now))
			var buf []usp.Param
			res, err := m.getPath(name, 0, now, &buf)
			if err != nil {
				continue
			}
			for _, rp := range res {
				for _, p := range rp.Params {
					out[rp.Path+p.Name] = p.Value
				}
			}
		}
	}
	js, _ := json.Marshal(out) // sorted keys
	return string(js)
}
