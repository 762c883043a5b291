package path

// Schema returns p in Supported-DM form: every instance selector (number,
// wildcard, search expression) replaced by {i}, names and kind unchanged:
// Device.DeviceInfo.FirmwareImage.[Status=="Active"].Version →
// Device.DeviceInfo.FirmwareImage.{i}.Version. Reference-following
// segments are kept as they are, so the Schema of a path with "Ref+" is
// not a Supported-DM path; resolve references first.
func (p Path) Schema() Path {
	if len(p.segs) == 0 {
		return Path{}
	}
	segs := make([]Segment, len(p.segs))
	for i, s := range p.segs {
		if s.IsSelector() {
			s = Segment{kind: SegPlaceholder}
		}
		segs[i] = s
	}
	return Path{segs: segs, kind: p.kind}
}

// MatchSupported reports whether p addresses the Supported-DM path schema
// (names and {i} only): same kind and names, with any instance selector of
// p (number, wildcard, expression or {i}) standing for an {i} of schema.
// An object path naming a table also addresses the table's {i}. form, as
// GetSupportedDM allows: Device.DeviceInfo.FirmwareImage. addresses
// Device.DeviceInfo.FirmwareImage.{i}. (not the other way round, since the
// schema of a single-instance object has no {i}). A p with reference
// following addresses nothing until the references are resolved.
func (p Path) MatchSupported(schema Path) bool {
	ps, ss := p.segs, schema.segs
	if p.kind != schema.kind || len(ps) == 0 {
		return false
	}
	if p.kind == Object && len(ss) == len(ps)+1 &&
		ss[len(ss)-1].kind == SegPlaceholder && ps[len(ps)-1].kind == SegName {
		ss = ss[:len(ps)]
	}
	if len(ps) != len(ss) {
		return false
	}
	for i, s := range ss {
		switch s.kind {
		case SegName:
			if ps[i].kind != SegName || ps[i].name != s.name {
				return false
			}
		case SegPlaceholder:
			if !ps[i].IsSelector() {
				return false
			}
		default:
			return false
		}
	}
	return true
}
