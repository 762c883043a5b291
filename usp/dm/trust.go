package dm

import (
	"strings"

	"brickyard/usp/path"
)

// trustConfig is where a schema keeps its ControllerTrust (Builder.
// ControllerTrust).
type trustConfig struct {
	untrusted                *Param // ControllerTrust.UntrustedRole
	roles                    *Object
	roleEnable, roleName     *Param
	perms                    *Object
	pEnable, pOrder, targets *Param
	pParam, pObj, pInst, pCE *Param
	assigned, inherited      *Param // Controller.{i}.AssignedRole, InheritedRole
	ctrlEnable               *Param // Controller.{i}.Enable
}

// ControllerTrust declares TR-181's access control and makes the engine
// enforce it (R-SEC.1: every request is checked against the permissions
// of the Controller that sent it):
//
//   - at trust (normally "Device.LocalAgent.ControllerTrust."): UntrustedRole
//     (a reference to a Role row; empty: Controllers that hold no role are
//     refused), RoleNumberOfEntries, and the Role.{i}. table (Alias, Enable,
//     Name — keys Alias and Name — and PermissionNumberOfEntries) with its
//     Permission.{i}. table (Alias, Enable, Order — keys Alias and Order, so
//     two entries of a Role never share an Order — Targets, Param, Obj,
//     InstantiatedObj, CommandEvent, each string "----" by default);
//     Controllers with the permission add and delete rows of both;
//   - on the Controller table at controllers (normally
//     "Device.LocalAgent.Controller.{i}.", which must also be given to
//     UseControllers and have an Enable parameter): AssignedRole (a list of
//     Role rows, writable) and InheritedRole (read-only: the device sets
//     it, from the credential the Controller authenticated with).
//
// The rules the engine applies are those of access.go; what each message
// does under them is in docs/datamodel.md. Values written to Targets and
// the permission strings are checked (7012); Role and Permission rows the
// device adds are not, and a malformed one grants nothing.
func (b *Builder) ControllerTrust(trust, controllers string) *Object {
	ct := b.Object(trust)
	ct.String("UntrustedRole").Writable().Persistent().MaxLen(256)
	ct.Uint("RoleNumberOfEntries")
	role := ct.Object("Role.{i}.").Access(AddDelete).Keys("Alias").Keys("Name").Persistent()
	role.String("Alias").WriteOnce().MaxLen(64)
	role.Bool("Enable").Writable()
	role.String("Name").Writable().MaxLen(64)
	role.Uint("PermissionNumberOfEntries")
	perm := role.Object("Permission.{i}.").Access(AddDelete).Keys("Alias").Keys("Order").Persistent()
	perm.String("Alias").WriteOnce().MaxLen(64)
	perm.Bool("Enable").Writable()
	perm.Uint("Order").Writable()
	perm.List("Targets", path.String).Writable().MaxLen(1024)
	for _, n := range []string{"Param", "Obj", "InstantiatedObj", "CommandEvent"} {
		perm.String(n).Writable().Default("----").MaxLen(4)
	}
	ctl := b.Object(controllers)
	ctl.List("AssignedRole", path.String).Writable().MaxLen(256)
	ctl.List("InheritedRole", path.String).MaxLen(256)
	if b.usable("ControllerTrust") {
		b.pending = append(b.pending, func() {
			role := b.specialTable("ControllerTrust role", role.path)
			if role == nil || b.s.ctrl == nil || b.s.ctrl.table != ctl {
				b.errorf("ControllerTrust: %s must be the table given to UseControllers", controllers)
				return
			}
			c := &trustConfig{
				untrusted: b.specialObjParam(ct, "UntrustedRole", path.String),
				roles:     role, roleEnable: b.specialParam(role, "Enable", path.Boolean), roleName: b.specialParam(role, "Name", path.String),
				perms: perm, pEnable: b.specialParam(perm, "Enable", path.Boolean), pOrder: b.specialParam(perm, "Order", path.UnsignedInt),
				targets: b.specialParam(perm, "Targets", path.String|path.List),
				pParam:  b.specialParam(perm, "Param", path.String), pObj: b.specialParam(perm, "Obj", path.String),
				pInst: b.specialParam(perm, "InstantiatedObj", path.String), pCE: b.specialParam(perm, "CommandEvent", path.String),
				assigned: b.specialParam(ctl, "AssignedRole", path.String|path.List), inherited: b.specialParam(ctl, "InheritedRole", path.String|path.List),
				ctrlEnable: b.specialParam(ctl, "Enable", path.Boolean),
			}
			b.s.trust = c
		})
	}
	return ct
}

// specialObjParam is specialParam for a single-instance object.
func (b *Builder) specialObjParam(o *Object, name string, typ path.Type) *Param {
	p := o.paramBy[name]
	if p == nil || p.typ != typ {
		b.errorf("object %s needs a %s parameter %s", o.path, typ, name)
		return &Param{obj: o, name: name, typ: typ}
	}
	return p
}

// trustRow reports whether r is a row whose change may change what a
// Controller may do: a Role, a Permission or a Controller row.
func (c *trustConfig) trustRow(r *row) bool {
	return r.obj == c.roles || r.obj == c.perms
}

// checkTrustWrite vets what a Controller writes to the access control:
// Targets must parse, permission strings must be rwxn strings, and a
// role reference must name a row of the Role table (7012).
func (m *Model) checkTrustWrite(p *Param, v string) error {
	c := m.s.trust
	switch {
	case c == nil:
		return nil
	case p == c.targets:
		_, err := parseTargets(v)
		return err
	case p == c.pParam || p == c.pObj || p == c.pInst || p == c.pCE:
		_, err := ParsePerm(v)
		return err
	case p == c.assigned || p == c.untrusted:
		for _, ref := range strings.Split(v, ",") {
			if ref = strings.TrimSpace(ref); ref != "" && m.roleRow(ref) == nil {
				return invalidRef(p, ref, c.roles)
			}
		}
	}
	return nil
}
