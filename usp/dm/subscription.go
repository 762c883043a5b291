package dm

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
)

type notifType uint8

const (
	ntNone notifType = iota
	ntValueChange
	ntObjectCreation
	ntObjectDeletion
	ntOperationComplete
	ntEvent
)

func parseNotifType(s string) notifType {
	switch s {
	case "ValueChange":
		return ntValueChange
	case "ObjectCreation":
		return ntObjectCreation
	case "ObjectDeletion":
		return ntObjectDeletion
	case "OperationComplete":
		return ntOperationComplete
	case "Event":
		return ntEvent
	}
	return ntNone
}

// sub is a subscription row as the engine uses it: rebuilt from the rows
// whenever a Subscription or Controller row changes. What is cheap to read
// from the row (ID, Recipient) is read from it when needed, and the
// ReferenceList is kept parsed only by ValueChange subscriptions, which
// every value change is matched against; the others parse it when an
// event, a command's end or a row's creation or deletion is matched
// against it. The cache stays small in a fleet of idle devices.
type sub struct {
	row      *row
	to       string       // the Recipient's Endpoint ID
	deadline time.Time    // CreationDate + TimeToLive; zero = none
	refs     *[]path.Path // ValueChange only: the ReferenceList, parsed
	expire   uint32       // NotifExpiration in seconds; 0 = never
	typ      notifType
	enabled  bool
	retry    bool
}

// subID is the subscription's ID.
func (m *Model) subID(s *sub, now time.Time) string { return m.read(m.s.subs.id, s.row, now) }

// subCtrl is the subscription's Recipient.
func (m *Model) subCtrl(s *sub, now time.Time) string {
	return m.read(m.s.subs.recipient, s.row, now)
}

// subscriptions returns the subscription cache, rebuilding it if needed.
// The subs are values: callers may keep a pointer into the slice only
// until the cache is next rebuilt.
func (m *Model) subscriptions(now time.Time) []sub {
	if m.subsOK {
		return m.subs
	}
	m.subsOK = true
	clear(m.subs)
	m.subs = m.subs[:0]
	c := m.s.subs
	if c == nil {
		return nil
	}
	rows := m.rowsOf(c.table, m.root)
	if cap(m.subs) < len(rows) {
		m.subs = make([]sub, 0, len(rows))
	}
	for _, r := range rows {
		s := sub{row: r,
			enabled: m.read(c.enable, r, now) == "true",
			typ:     parseNotifType(m.read(c.typ, r, now)),
			retry:   m.read(c.retry, r, now) == "true",
		}
		s.to = m.endpointOf(m.read(c.recipient, r, now), now)
		if n, err := strconv.ParseUint(m.read(c.expiration, r, now), 10, 32); err == nil {
			s.expire = uint32(n)
		}
		if s.typ == ntValueChange {
			var refs []path.Path
			for _, ref := range strings.Split(m.read(c.refs, r, now), ",") {
				if p, err := path.Parse(strings.TrimSpace(ref)); err == nil {
					refs = append(refs, p)
				}
			}
			s.refs = &refs
		}
		if ttl, err := strconv.ParseUint(m.read(c.ttl, r, now), 10, 32); err == nil && ttl > 0 {
			if t0, err := time.Parse(time.RFC3339Nano, m.read(c.created, r, now)); err == nil {
				s.deadline = t0.Add(time.Duration(ttl) * time.Second)
			}
		}
		m.subs = append(m.subs, s)
	}
	return m.subs
}

// endpointOf maps a Recipient to the Controller's Endpoint ID: the
// EndpointID of the Controller row it names, or the Recipient itself when
// it is not a row of the Controller table.
func (m *Model) endpointOf(recipient string, now time.Time) string {
	c := m.s.ctrl
	if c == nil || !strings.HasPrefix(recipient, tablePath(c.table, m.root)) {
		return recipient
	}
	r := m.controllerRow(recipient, now)
	if r == nil {
		return ""
	}
	return m.read(c.endpoint, r, now)
}

// controllerRow finds the Controller row at the path ref (no trailing dot).
func (m *Model) controllerRow(ref string, now time.Time) *row {
	c := m.s.ctrl
	if c == nil || ref == "" {
		return nil
	}
	p, err := path.Parse(ref + ".")
	if err != nil || p.IsSearch() {
		return nil
	}
	ts, obj, err := m.resolve(p, p.Len(), now)
	if err != nil || obj != c.table || len(ts) != 1 || ts[0].table {
		return nil
	}
	return ts[0].r
}

// initRow fills what the Agent sets in a row a Controller creates: a
// Subscription's Recipient and CreationDate.
func (m *Model) initRow(from Origin, r *row, now time.Time) {
	c := m.s.subs
	if c == nil || r.obj != c.table {
		return
	}
	rcpt := from.Controller
	if rcpt == "" {
		rcpt = from.EndpointID
	}
	m.put(r, c.recipient, rcpt)
	m.put(r, c.created, now.UTC().Format(time.RFC3339))
	m.put(r, c.id, "cpe-sub-"+strconv.FormatUint(uint64(r.num), 10))
}

// checkSpecial applies the engine's own rules to a write: a Subscription's
// ReferenceList must hold valid paths.
func (m *Model) checkSpecial(p *Param, r *row, v string, now time.Time) error {
	c := m.s.subs
	if c == nil || p != c.refs || v == "" {
		return nil
	}
	for _, ref := range strings.Split(v, ",") {
		if _, err := path.Parse(strings.TrimSpace(ref)); err != nil {
			return fmt.Errorf("%s: %q is not a path: %w", p.name, trunc(ref), usp.InvalidValue)
		}
	}
	return nil
}

// expireSubscriptions deletes the subscriptions whose TimeToLive has run
// out, with their ObjectDeletion notifications.
func (m *Model) expireSubscriptions(now time.Time) {
	for {
		var dead *row
		for _, s := range m.subscriptions(now) {
			if !s.deadline.IsZero() && !now.Before(s.deadline) {
				dead = s.row
				break
			}
		}
		if dead == nil {
			return
		}
		m.deleteRow(dead, now)
	}
}
