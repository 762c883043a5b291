// Package path parses, classifies and matches USP (TR-369) path names in the
// TR-181 Device:2 data model.
//
// The package is pure: no goroutines, clock, I/O or global mutable state.
// Every syntax error wraps usp.InvalidPathSyntax (7008), so callers test
// with errors.Is(err, usp.InvalidPathSyntax) or read the code with
// usp.CodeOf; the message names what was wrong and its byte offset.
//
// # Grammar
//
// Parse accepts a path in the instantiated data model (TR-369; the
// project's usp.md 6.1-6.3):
//
//	path      = segment ("." segment)* end
//	end       = "."                          object path         Device.DeviceInfo.
//	          | ""  after a name             parameter path      Device.DeviceInfo.SoftwareVersion
//	          | "()" after a name            command path        Device.DeviceInfo.FirmwareImage.2.Download()
//	          | "!"  after a name            event path          Device.Boot!
//	segment   = name | selector | reference
//	name      = [A-Za-z_][A-Za-z0-9_-]*       "-" for vendor names   X_EXAMPLE-COM_Mode
//	selector  = posnum                       instance number     Device.DeviceInfo.FirmwareImage.2.
//	          | "*"                          wildcard            Device.DeviceInfo.FirmwareImage.*.Status
//	          | "[" comp ("&&" comp)* "]"    unique key          Device.LocalAgent.Controller.[Alias=="cpe-1"].
//	                                         or search           Device.DeviceInfo.FirmwareImage.[Status=="Active"&&Version!="1.0"].Name
//	reference = name "+"                     reference following Device.DeviceInfo.ActiveFirmwareImage+.Name
//	          | name "#" posnum "+"          one list item       Device.X.Refs#2+.Name
//	          | name "#*+"                   every list item     Device.X.Refs#*+.Name
//	comp      = name ("." name)* op literal   sub-object params      [Stats.BytesSent>0]
//	op        = "==" | "!=" | "~=" | "<" | ">" | "<=" | ">="
//	literal   = '"' any byte but '"' '"'    string              [Alias=="cpe-1"], %22 for '"', %25 for '%'
//	          | [+-]?[0-9]+("."[0-9]+)?      number              [Count>+0123], [Level<=-5], [Ratio>1.5]
//	          | "true" | "false"             boolean             [Enable==true], also 1 and 0 as numbers
//	          | RFC 3339 time                dateTime            [Expires<2021-06-06T08:00:00Z]
//	posnum    = [1-9][0-9]*                  at most 4294967295
//
// Structure rules: a path begins with a name; a selector follows a name
// (the table) and is followed by "."; a reference is followed by "." and
// is never first; "()" and "!" end the path. A path is at most MaxLen
// (32 KiB) bytes.
//
// Invalid, among others: "", "Device..X", ".Device", "Device.X.0.",
// "Device.X.01.", "Device.X.[].", "Device.X.[A=={i}].",
// "Device.X.[Y.1.Z==1]." (descending into a child table),
// "Device.X.[A==1||B==2].", "Device.Reboot()x", "Device.Boot!.",
// "Device.X.Ref+", "Device.X.Ref+Name", "Device.X.{i}.",
// "Device.X.[Alias==cpe]." (unquoted strings), unterminated "[" or '"'.
//
// ParseSupported accepts the Supported-DM notation instead: names and {i}
// placeholders only (Device.DeviceInfo.FirmwareImage.{i}.Status), and a
// table without its final "{i}." as GetSupportedDM allows
// (Device.DeviceInfo.FirmwareImage.).
//
// # Leniency
//
//   - Spaces and tabs around names, operators, literals and "&&" inside
//     "[...]" are accepted (Agents SHOULD tolerate them); String drops them.
//   - Unquoted literals go beyond the BNF's numbers: +123, 0123, decimals,
//     true/false and dateTimes, as the spec's own examples use.
//   - A quoted literal decodes any %XX escape, not only %22 and %25; a '%'
//     without two hex digits is an error. Curly braces inside a quoted
//     literal are data, not a syntax error.
//   - "Ref+." ending a path is accepted as an object path (the referenced
//     object).
//
// # Types are checked late
//
// The parser cannot know a parameter's type, so it cannot reject a quoted
// boolean such as [Enable=="true"]. Expr.Eval (and Expr.Check) reject it
// when the data model supplies the type, with an error that also wraps
// usp.InvalidPathSyntax.
//
// # Matching
//
// Path.Match tells whether a concrete path (names and instance numbers)
// is one a path addresses, evaluating search expressions through a Lookup
// the data-model engine provides; Path.Covers adds partial-path semantics
// (an object path covers everything below it); Path.MatchSupported and
// Path.Schema relate a path to the Supported DM. Reference following
// needs the data: the engine resolves "Ref+" segments itself, and Match
// refuses them with usp.InvalidPath.
package path
