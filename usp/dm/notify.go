package dm

import (
	"strconv"
	"strings"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
	pb "brickyard/usp/uspmsg"
)

// Notifications. Every enabled subscription whose NotifType and
// ReferenceList match an event gets its own Notify (one per subscription,
// so two Controllers subscribed to the same thing get one each), whoever
// caused the event — the subscribing Controller included. send_resp is the
// subscription's NotifRetry; subscription_id its ID.
//
// ReferenceList matching, per type (each item may be a search path):
//
//	ValueChange        a parameter path, or an object path: every parameter below it
//	ObjectCreation     the row's table path, or a wildcard/search selecting the row
//	ObjectDeletion     the row's table path, its instance path, or a wildcard/search selecting it
//	OperationComplete  a command path, or an object path: every command below it
//	Event              an event path, or an object path: every event below it
//
// For ObjectCreation and ObjectDeletion a path above the table does not
// cover its rows (as in obuspa, which expands partial paths only for
// ValueChange, OperationComplete and Event): a subscription to
// Device.LocalAgent.Controller. is not told about BootParameter rows.
//
// Reference following in a ReferenceList item matches nothing.

// valueChanged notifies a parameter's new value. Parameters marked
// IgnoreValueChange, Secret or write-only are never notified.
func (m *Model) valueChanged(p *Param, r *row, v string, now time.Time) {
	if p.noVC || p.secret || p.access == WriteOnly || !m.anySubs(now) {
		return
	}
	subs := m.subscriptions(now)
	for i := range subs {
		s := &subs[i]
		if s.typ == ntValueChange && m.matches(s, p.obj, r, path.Parameter, p.name, now) {
			if a, ok := m.recipient(s, now); !ok || (a != nil && a.paramAt(p, r)&PermNotify == 0) {
				continue
			}
			m.send(s, usp.ValueChange(m.subID(s, now), s.retry, objPath(p.obj, r)+p.name, v), now)
		}
	}
}

// objectCreated notifies a new row.
func (m *Model) objectCreated(r *row, now time.Time) {
	if !m.anySubs(now) {
		return
	}
	subs := m.subscriptions(now)
	for i := range subs {
		s := &subs[i]
		if s.typ == ntObjectCreation && m.matches(s, r.obj, r, path.Object, "", now) {
			a, ok := m.recipient(s, now)
			if !ok || (a != nil && a.tableAt(r.obj, r.parent)&PermNotify == 0) {
				continue
			}
			prev := m.enter(a) // the unique keys the recipient may read
			keys := m.uniqueKeys(r.obj, r, now)
			m.enter(prev)
			m.send(s, usp.ObjCreation(m.subID(s, now), s.retry, objPath(r.obj, r), keys), now)
		}
	}
}

// objectDeleted notifies a row about to be removed (search expressions in
// the ReferenceList still see its values).
func (m *Model) objectDeleted(r *row, now time.Time) {
	if !m.anySubs(now) {
		return
	}
	subs := m.subscriptions(now)
	for i := range subs {
		s := &subs[i]
		if s.typ == ntObjectDeletion && m.matches(s, r.obj, r, path.Object, "", now) {
			if a, ok := m.recipient(s, now); !ok || (a != nil && a.instAt(r.obj, r)&PermNotify == 0) {
				continue
			}
			m.send(s, usp.ObjDeletion(m.subID(s, now), s.retry, objPath(r.obj, r)), now)
		}
	}
}

// event notifies event e of the object instance in row r. args gives the
// arguments per recipient Controller (Recipient path).
func (m *Model) event(e *Event, r *row, args func(controller string) map[string]string, now time.Time) {
	if !m.anySubs(now) {
		return
	}
	base := e.name[:len(e.name)-1]
	subs := m.subscriptions(now)
	for i := range subs {
		s := &subs[i]
		if s.typ == ntEvent && m.matches(s, e.obj, r, path.Event, base, now) {
			if a, ok := m.recipient(s, now); !ok || (a != nil && a.eventAt(e, r)&PermNotify == 0) {
				continue
			}
			m.send(s, usp.Event(m.subID(s, now), s.retry, objPath(e.obj, r), e.name, args(m.subCtrl(s, now))), now)
		}
	}
}

// operationComplete notifies the end of an asynchronous command.
func (m *Model) operationComplete(j *job, out map[string]string, err error, now time.Time) {
	if !m.anySubs(now) {
		return
	}
	c := j.cmd
	base := c.name[:len(c.name)-2]
	subs := m.subscriptions(now)
	for i := range subs {
		s := &subs[i]
		if s.typ == ntOperationComplete && m.matches(s, c.obj, j.at, path.Command, base, now) {
			if a, ok := m.recipient(s, now); !ok || (a != nil && a.cmdAt(c, j.at)&PermNotify == 0) {
				continue
			}
			m.send(s, usp.OperComplete(m.subID(s, now), s.retry, j.Obj, c.name, j.Key, out, err, nil), now)
		}
	}
}

// anySubs reports whether there is any enabled subscription at all, the
// cheap test made before anything is formatted.
func (m *Model) anySubs(now time.Time) bool {
	for _, s := range m.subscriptions(now) {
		if s.enabled {
			return true
		}
	}
	return false
}

// matches reports whether enabled subscription s covers the element of
// kind k named leaf of object o in row r (or the object instance itself).
func (m *Model) matches(s *sub, o *Object, r *row, k path.Kind, leaf string, now time.Time) bool {
	if !s.enabled || s.to == "" {
		return false
	}
	if s.refs != nil {
		for _, ref := range *s.refs {
			if m.covers(ref, o, r, k, leaf, now) {
				return true
			}
		}
		return false
	}
	for refs := m.read(m.s.subs.refs, s.row, now); refs != ""; {
		var item string
		item, refs, _ = strings.Cut(refs, ",")
		if ref, err := path.Parse(strings.TrimSpace(item)); err == nil && m.covers(ref, o, r, k, leaf, now) {
			return true
		}
	}
	return false
}

// covers reports whether ref addresses the element, with partial-path
// semantics: an object path covers everything below it.
func (m *Model) covers(ref path.Path, o *Object, r *row, k path.Kind, leaf string, now time.Time) bool {
	n := len(o.segs)
	if k != path.Object {
		n++
	}
	switch {
	case k == path.Object:
		// A row is addressed by its table's path or by a selector of
		// its instance, never by a path above the table (obuspa does
		// not expand partial paths for ObjectCreation/ObjectDeletion).
		if ref.Kind() != path.Object || (ref.Len() != n && ref.Len() != n-1) {
			return false
		}
	case ref.Kind() == path.Object:
		if ref.Len() >= n {
			return false
		}
	case ref.Kind() != k || ref.Len() != n:
		return false
	}
	var buf [8]*row
	rows := buf[:0]
	for x := r; x != nil && x.parent != nil; x = x.parent {
		rows = append(rows, x)
	}
	j := len(rows) - 1 // rows is innermost first; placeholders come outermost first
	for i := 0; i < ref.Len(); i++ {
		rs := ref.At(i)
		if i == len(o.segs) {
			return rs.Kind() == path.SegName && rs.Name() == leaf
		}
		cs := o.segs[i]
		if !cs.table {
			if rs.Kind() != path.SegName || rs.Name() != cs.name {
				return false
			}
			continue
		}
		if j < 0 || !rs.IsSelector() {
			return false
		}
		tr := rows[j]
		j--
		exprs, err := checkExprs(ref, tr.obj, rs)
		if err != nil || !m.selects(rs, exprs, tr.obj, tr, now) {
			return false
		}
	}
	return true
}

// send emits a Notify to subscription s's Controller, and keeps it for
// retries when s asks for a NotifyResp.
func (m *Model) send(s *sub, n *pb.Notify, now time.Time) {
	msg := m.newNotify(n)
	ctrl := m.subCtrl(s, now)
	m.effects().Notify = append(m.effects().Notify, Notification{To: s.to, Controller: ctrl, Msg: msg})
	if s.retry {
		var exp time.Time
		if s.expire > 0 {
			exp = now.Add(time.Duration(s.expire) * time.Second)
		}
		p := newPending(msg)
		p.to, p.ctrl, p.sub, p.expires = s.to, ctrl, s.row, exp
		m.hold(p, now)
	}
}

// newNotify wraps a Notify into a request Msg with a fresh msg_id.
func (m *Model) newNotify(n *pb.Notify) *pb.Msg {
	m.seq++
	return usp.NewRequest(m.s.opts.MsgIDPrefix+strconv.FormatUint(m.seq, 10), n)
}
