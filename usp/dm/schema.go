package dm

import (
	"slices"
	"time"

	"brickyard/usp/path"
)

// Schema is the immutable, shared description of one device type's data
// model: objects, tables, parameters (type, access, default, persistence,
// bindings), commands and events, unique keys and table access. Build it
// once with a Builder and give it to every Model of that device type; a
// Schema is safe for concurrent use by any number of Models once built.
type Schema struct {
	opts    Options
	root    *Object
	objects []*Object // declaration order; index = Object.id
	params  []*Param  // declaration order; index = Param.id
	subs    *subConfig
	reqs    *reqConfig
	ctrl    *ctrlConfig
	trust   *trustConfig
	ncmds   int // commands, numbered by Build
	nevents int // events, numbered by Build
	frozen  bool
}

// Options are the schema-wide settings and the engine's limits. Zero
// fields take the documented defaults.
type Options struct {
	// URI is GetSupportedDM's data_model_inst_uri, e.g.
	// "urn:broadband-forum-org:tr-181-2-19-0".
	URI string
	// MaxPathLen is the longest path accepted in a request, in bytes
	// (default 1024). A longer path fails with 7005 Resources exceeded.
	MaxPathLen int
	// MaxPaths is the most paths, objects or parameter settings one request
	// may carry (default 256). More make the whole message fail with 7005.
	MaxPaths int
	// MaxInstances is the row limit of a table that declares no MaxEntries
	// (default 1024). Adding beyond it fails with 7005.
	MaxInstances int
	// MaxValueLen is the longest value a string-like parameter accepts when
	// it declares no MaxLen (default 4096 bytes). Longer values fail 7012.
	MaxValueLen int
	// MaxPending is the most notifications kept waiting for a NotifyResp
	// (default 64); when full, the oldest stops being retried.
	MaxPending int
	// MsgIDPrefix starts the msg_id of every Notify the engine sends
	// (default "dm-"); a per-model counter follows it.
	MsgIDPrefix string
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxPathLen, 1024)
	def(&o.MaxPaths, 256)
	def(&o.MaxInstances, 1024)
	def(&o.MaxValueLen, 4096)
	def(&o.MaxPending, 64)
	if o.MsgIDPrefix == "" {
		o.MsgIDPrefix = "dm-"
	}
	return o
}

// Options returns the schema's options with defaults filled in.
func (s *Schema) Options() Options { return s.opts }

// Root is the root object ("Device.").
func (s *Schema) Root() *Object { return s.root }

// Object returns the object at a Supported-DM path such as
// "Device.DeviceInfo.FirmwareImage.{i}." (the final "{i}." of a table may
// be omitted), or nil.
func (s *Schema) Object(p string) *Object {
	sp, err := path.ParseSupported(p)
	if err != nil || sp.Kind() != path.Object {
		return nil
	}
	o, _ := s.walkSupported(sp, sp.Len())
	return o
}

// Param returns the parameter at a Supported-DM path such as
// "Device.DeviceInfo.FirmwareImage.{i}.Status", or nil.
func (s *Schema) Param(p string) *Param {
	sp, err := path.ParseSupported(p)
	if err != nil || sp.Kind() != path.Parameter {
		return nil
	}
	o, _ := s.walkSupported(sp, sp.Len()-1)
	if o == nil {
		return nil
	}
	return o.paramBy[sp.Name()]
}

// walkSupported follows the first n segments of a Supported-DM (or
// instantiated: any selector stands for {i}) path. A table named without a
// selector is returned as the table; tableOnly reports that.
func (s *Schema) walkSupported(p path.Path, n int) (o *Object, tableOnly bool) {
	if s.root == nil || n == 0 || p.At(0).Kind() != path.SegName || p.At(0).Name() != s.root.name {
		return nil, false
	}
	o = s.root
	for i := 1; i < n; i++ {
		seg := p.At(i)
		switch {
		case seg.Kind() == path.SegName:
			if tableOnly {
				return nil, false
			}
			c := o.childBy[seg.Name()]
			if c == nil {
				return nil, false
			}
			o, tableOnly = c, c.table
		case seg.IsSelector():
			if !tableOnly {
				return nil, false
			}
			tableOnly = false
		default:
			return nil, false
		}
	}
	return o, tableOnly
}

// Access is a parameter's access for Controllers (TR-106).
type Access uint8

// Parameter access kinds.
const (
	ReadOnly          Access = iota // PARAM_READ_ONLY
	ReadWrite                       // PARAM_READ_WRITE
	WriteOnceReadOnly               // settable once (Add counts), then read-only; PARAM_READ_WRITE in GSDM
	WriteOnly                       // PARAM_WRITE_ONLY; never returned by Get
)

// TableAccess is what Controllers may do with a table's rows; it is
// GetSupportedDM's ObjAccessType. Rows of a ReadOnlyTable are created and
// deleted only by the device (Model.AddRow, Model.DeleteRow).
type TableAccess uint8

// Table access kinds.
const (
	ReadOnlyTable TableAccess = iota // OBJ_READ_ONLY
	AddDelete                        // OBJ_ADD_DELETE
	AddOnly                          // OBJ_ADD_ONLY
	DeleteOnly                       // OBJ_DELETE_ONLY
)

func (a TableAccess) canAdd() bool    { return a == AddDelete || a == AddOnly }
func (a TableAccess) canDelete() bool { return a == AddDelete || a == DeleteOnly }

// Object is a schema object: a single-instance object or a table
// (multi-instance object). Its declaration methods (Param, Command, Keys,
// ...) may be called only before Builder.Build; its accessors any time.
type Object struct {
	s       *Schema
	b       *Builder
	id      uint16
	name    string // "FirmwareImage"
	path    string // Supported-DM path: "Device.DeviceInfo.FirmwareImage.{i}."
	parent  *Object
	table   bool
	depth   int     // Device. = 1
	owner   *Object // the table (or root) whose rows hold this object's values
	slot    int     // a table's index in owner.subTables
	segs    []oseg  // path segments: names and {i} placeholders
	ntables int     // number of {i} placeholders in segs

	children []*Object
	params   []*Param
	byName   []*Param // params sorted by name
	commands []*Command
	events   []*Event
	childBy  map[string]*Object
	paramBy  map[string]*Param
	cmdBy    map[string]*Command
	eventBy  map[string]*Event

	subTables []*Object // tables whose owner is this object

	// Tables only.
	access     TableAccess
	maxEntries int
	keyNames   [][]string
	keys       [][]*Param
	alias      *Param // the Alias key, auto-assigned "cpe-N"
	persist    bool
	persistIf  string // boolean parameter deciding a row's persistence
	persistVia *Param
	onRows     RowHook
}

// RowHook tells the device that a Controller's Add created (added true) or
// a Controller's Delete is deleting (added false) a row of a table; c
// addresses the row (c.Path(), c.Get). It is called once the request's
// outcome is final — after all rows of an Add exist, before a Delete
// removes the row — and cannot refuse: vet writes with Validators instead.
type RowHook func(c Ctx, added bool)

type oseg struct {
	name  string
	table bool // a {i} placeholder
}

// Name is the object's name ("FirmwareImage").
func (o *Object) Name() string { return o.name }

// Path is the object's Supported-DM path ("Device.DeviceInfo.FirmwareImage.{i}.").
func (o *Object) Path() string { return o.path }

// IsTable reports whether the object is multi-instance.
func (o *Object) IsTable() bool { return o.table }

// Parent is the enclosing object (nil for the root).
func (o *Object) Parent() *Object { return o.parent }

// Params lists the object's own parameters in declaration order.
func (o *Object) Params() []*Param { return slices.Clone(o.params) }

// HasCommand reports whether the object declares the command ("Reboot()").
func (o *Object) HasCommand(name string) bool { return o.cmdBy[name] != nil }

// HasEvent reports whether the object declares the event ("Boot!").
func (o *Object) HasEvent(name string) bool { return o.eventBy[name] != nil }

// Children lists the direct child objects in declaration order.
func (o *Object) Children() []*Object { return slices.Clone(o.children) }

// Param is a schema parameter: its type, access, default, persistence,
// constraints and optional bindings.
type Param struct {
	obj     *Object
	id      uint16
	name    string
	typ     path.Type
	access  Access
	def     string
	persist bool
	secret  bool
	noVC    bool
	enum    []string
	hasMin  bool
	hasMax  bool
	min     int64
	max     int64
	maxLen  int
	refPath string  // RefTo target as declared
	ref     *Object // strong reference target table
	count   *Object // a <Table>NumberOfEntries counter

	get   Getter
	tmpl  Getter // the per-device default (Template)
	check Setter
	set   Setter
}

// Name is the parameter's name ("Status").
func (p *Param) Name() string { return p.name }

// Path is the parameter's Supported-DM path.
func (p *Param) Path() string { return p.obj.path + p.name }

// Type is the parameter's type.
func (p *Param) Type() path.Type { return p.typ }

// Object is the object holding the parameter.
func (p *Param) Object() *Object { return p.obj }

// DefaultValue is the value the parameter has until something stores another.
func (p *Param) DefaultValue() string { return p.def }

// Access is the parameter's access for Controllers.
func (p *Param) Access() Access { return p.access }

// Getter computes a bound parameter's value. It must not change the model.
type Getter func(c Ctx) string

// Setter validates (Param.Validator) or applies (Param.Setter) a value a
// Controller writes. A returned error should wrap a usp.Code such as
// usp.InvalidValue or usp.ValueConflict; one that does not becomes 7009
// Parameter action failed for Set (7003 elsewhere).
type Setter func(c Ctx, value string) error

// Command is a schema command such as "Download()".
type Command struct {
	obj    *Object
	id     uint16 // index among the schema's commands (Build)
	name   string // with "()"
	async  bool
	in     []arg
	out    []string
	run    Handler
	accept Accept
	cancel bool // the engine's Request.{i}.Cancel()
}

type arg struct {
	name      string // Supported-DM relative name: "URL", "TimeWindow.{i}.Start"
	mandatory bool
	def       string
	hasDef    bool
}

// Name is the command's name with "()".
func (c *Command) Name() string { return c.name }

// IsAsync reports whether the command is asynchronous.
func (c *Command) IsAsync() bool { return c.async }

// Handler runs a synchronous command: in holds the known input arguments
// (defaults filled in); it returns the output arguments or an error that
// usp.Reason maps (a code not allowed in a CommandFailure becomes 7022).
type Handler func(c Ctx, in map[string]string) (out map[string]string, err error)

// Accept vets an asynchronous command before the engine creates its
// Request row; an error becomes the result's cmd_failure.
type Accept func(c Ctx, in map[string]string) error

// Event is a schema event such as "Boot!".
type Event struct {
	obj  *Object
	id   uint16 // index among the schema's events (Build)
	name string // with "!"
	args []string
}

// Name is the event's name with "!".
func (e *Event) Name() string { return e.name }

// Ctx is what bindings and command handlers receive: the model, the
// device's environment value, the time, who asked, and the object
// instance concerned. Handlers may call the Model's device-side methods;
// the effects join those of the request being handled.
type Ctx struct {
	Model      *Model
	Env        any       // Config.Env of the Model: the device
	Now        time.Time // the time of the call that led here
	Origin     Origin    // the Controller asking; zero for the device's own calls
	CommandKey string    // Operate's command_key (commands only)
	obj        *Object
	row        *row
}

// Object is the schema object of the instance concerned.
func (c Ctx) Object() *Object { return c.obj }

// Path is the instance path of the object concerned, with instance
// numbers and a trailing dot: "Device.DeviceInfo.FirmwareImage.2.".
func (c Ctx) Path() string {
	if c.Model == nil || c.obj == nil {
		return ""
	}
	return objPath(c.obj, c.row)
}

// Num is the innermost instance number along the path (2 for
// Device.DeviceInfo.FirmwareImage.2.Status), 0 when there is none.
func (c Ctx) Num() uint32 {
	if c.row == nil {
		return 0
	}
	return c.row.num
}

// Nums lists the instance numbers along the path, outermost first.
func (c Ctx) Nums() []uint32 { return rowNums(c.row) }

// Get reads a parameter of the instance concerned by its relative name
// ("Status", "Stats.BytesSent").
func (c Ctx) Get(rel string) (string, bool) {
	if c.Model == nil || c.obj == nil {
		return "", false
	}
	p := c.obj.paramRel(rel)
	if p == nil {
		return "", false
	}
	return c.Model.read(p, c.row, c.Now), true
}
