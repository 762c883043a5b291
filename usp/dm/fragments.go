package dm

import (
	"brickyard/usp/path"
)

// SubscriptionNames names the parameters of a Subscription table, for a
// schema whose names differ from TR-181's (DefaultSubscriptionNames).
type SubscriptionNames struct {
	Enable, ID, Recipient, NotifType, ReferenceList, Persistent,
	TimeToLive, NotifRetry, NotifExpiration, CreationDate string
}

// DefaultSubscriptionNames returns TR-181's names.
func DefaultSubscriptionNames() SubscriptionNames {
	return SubscriptionNames{
		Enable: "Enable", ID: "ID", Recipient: "Recipient", NotifType: "NotifType",
		ReferenceList: "ReferenceList", Persistent: "Persistent", TimeToLive: "TimeToLive",
		NotifRetry: "NotifRetry", NotifExpiration: "NotifExpiration", CreationDate: "CreationDate",
	}
}

type subConfig struct {
	table                                        *Object
	names                                        SubscriptionNames
	enable, id, recipient, typ, refs, persistent *Param
	ttl, retry, expiration, created              *Param
}

type reqConfig struct {
	table                                   *Object
	originator, command, commandKey, status *Param
}

type ctrlConfig struct {
	table                  *Object
	endpoint, minWait, mul *Param
}

// Subscriptions declares the TR-181 Subscription table at the Supported-DM
// path table (normally "Device.LocalAgent.Subscription.{i}.") and makes the
// engine use it for notifications (UseSubscriptions with the default
// names). Declared: Alias, Enable, ID, Recipient (read-only, set to the
// creating Controller), NotifType (enumerated), ReferenceList (list of
// paths, settable while empty), Persistent, TimeToLive, NotifRetry,
// NotifExpiration, CreationDate (read-only, set at creation); keys Alias
// and (Recipient, ID); Controllers add and delete rows; a row persists
// when Persistent is true. The returned table may be extended
// (TriggerAction, ...).
func (b *Builder) Subscriptions(table string) *Object {
	t := b.Object(table).Access(AddDelete).Keys("Alias").Keys("Recipient", "ID").PersistIf("Persistent")
	t.String("Alias").WriteOnce().MaxLen(64)
	t.Bool("Enable").Writable()
	t.String("Recipient").MaxLen(256)
	t.String("ID").Writable().MaxLen(64)
	t.DateTime("CreationDate")
	t.String("NotifType").Writable().Enum("ValueChange", "ObjectCreation", "ObjectDeletion", "OperationComplete", "Event")
	t.List("ReferenceList", path.String).WriteOnce().MaxLen(256)
	t.Bool("Persistent").Writable()
	t.Uint("TimeToLive").Writable()
	t.Bool("NotifRetry").Writable()
	t.Uint("NotifExpiration").Writable()
	b.UseSubscriptions(table, DefaultSubscriptionNames())
	return t
}

// UseSubscriptions tells the engine that the table at the Supported-DM
// path table holds the subscriptions, with parameters named by n (the
// caller declares them; DefaultSubscriptionNames gives TR-181's). It must
// be a top-level table (its parent is not inside another table). Build
// checks that every named parameter exists with the right type.
func (b *Builder) UseSubscriptions(table string, n SubscriptionNames) {
	if b.usable("UseSubscriptions") {
		b.pending = append(b.pending, func() {
			t := b.specialTable("subscription", table)
			if t == nil {
				return
			}
			c := &subConfig{table: t, names: n}
			c.enable = b.specialParam(t, n.Enable, path.Boolean)
			c.id = b.specialParam(t, n.ID, path.String)
			c.recipient = b.specialParam(t, n.Recipient, path.String)
			c.typ = b.specialParam(t, n.NotifType, path.String)
			c.refs = b.specialParam(t, n.ReferenceList, path.String|path.List)
			c.persistent = b.specialParam(t, n.Persistent, path.Boolean)
			c.ttl = b.specialParam(t, n.TimeToLive, path.UnsignedInt)
			c.retry = b.specialParam(t, n.NotifRetry, path.Boolean)
			c.expiration = b.specialParam(t, n.NotifExpiration, path.UnsignedInt)
			c.created = b.specialParam(t, n.CreationDate, path.DateTime)
			b.s.subs = c
		})
	}
}

// Requests declares the TR-181 Request table at the Supported-DM path
// table (normally "Device.LocalAgent.Request.{i}."): a read-only table of
// Alias, Originator, Command, CommandKey, Status, with keys Alias and
// (Originator, Command, CommandKey) and the Cancel() command, which the
// engine implements. With it, every accepted asynchronous command gets a
// row (R-OPR.0).
func (b *Builder) Requests(table string) *Object {
	t := b.Object(table).Access(ReadOnlyTable).Keys("Alias").Keys("Originator", "Command", "CommandKey")
	t.String("Alias").WriteOnce().MaxLen(64)
	t.String("Originator")
	t.String("Command")
	t.String("CommandKey")
	t.String("Status").Enum(statusRequested, statusActive, statusCanceling, statusCanceled, statusSuccess, statusError).Default(statusRequested)
	c := t.Command("Cancel()")
	c.cancel = true
	if b.usable("Requests") {
		b.pending = append(b.pending, func() {
			t := b.specialTable("request", table)
			if t == nil {
				return
			}
			b.s.reqs = &reqConfig{table: t,
				originator: b.specialParam(t, "Originator", path.String),
				command:    b.specialParam(t, "Command", path.String),
				commandKey: b.specialParam(t, "CommandKey", path.String),
				status:     b.specialParam(t, "Status", path.String)}
		})
	}
	return t
}

// UseControllers tells the engine that the table at the Supported-DM path
// table (normally "Device.LocalAgent.Controller.{i}.", declared by the
// caller) lists the Controllers: their EndpointID (required) and, when
// declared, USPNotifRetryMinimumWaitInterval and
// USPNotifRetryIntervalMultiplier (the Notify retry parameters; defaults 5
// and 2000 otherwise). A Subscription's Recipient is a row of it.
func (b *Builder) UseControllers(table string) {
	if b.usable("UseControllers") {
		b.pending = append(b.pending, func() {
			t := b.specialTable("controller", table)
			if t == nil {
				return
			}
			c := &ctrlConfig{table: t, endpoint: b.specialParam(t, "EndpointID", path.String)}
			c.minWait = t.paramBy["USPNotifRetryMinimumWaitInterval"]
			c.mul = t.paramBy["USPNotifRetryIntervalMultiplier"]
			b.s.ctrl = c
		})
	}
}

func (b *Builder) specialTable(what, p string) *Object {
	t := b.s.Object(p)
	switch {
	case t == nil || !t.table:
		b.errorf("%s table %s is not a declared table", what, p)
		return nil
	case t.parent.owner != b.s.root:
		b.errorf("%s table %s must not be inside another table", what, p)
		return nil
	}
	return t
}

func (b *Builder) specialParam(t *Object, name string, typ path.Type) *Param {
	p := t.paramBy[name]
	if p == nil || p.typ != typ {
		b.errorf("table %s needs a %s parameter %s", t.path, typ, name)
		return &Param{obj: t, name: name, typ: typ}
	}
	return p
}
