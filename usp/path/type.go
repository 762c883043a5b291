package path

import "strconv"

// Type is a TR-106 parameter type, as far as search expressions need it.
// The data-model engine supplies it with each value it looks up. List is a
// flag: String|List is a comma-separated list of strings. The zero Type is
// invalid.
type Type uint8

// Parameter types.
const (
	String Type = iota + 1
	Boolean
	Int
	UnsignedInt
	Long
	UnsignedLong
	Decimal
	DateTime
	HexBinary
	Base64

	List Type = 0x80 // flag: a comma-separated list of the base type
)

var typeText = [...]string{
	String:       "string",
	Boolean:      "boolean",
	Int:          "int",
	UnsignedInt:  "unsignedInt",
	Long:         "long",
	UnsignedLong: "unsignedLong",
	Decimal:      "decimal",
	DateTime:     "dateTime",
	HexBinary:    "hexBinary",
	Base64:       "base64",
}

// IsList reports whether t is a list type.
func (t Type) IsList() bool { return t&List != 0 }

// Elem is t without the List flag: the type of a list's items.
func (t Type) Elem() Type { return t &^ List }

func (t Type) valid() bool {
	e := t.Elem()
	return e >= String && e <= Base64
}

func (t Type) numeric() bool {
	e := t.Elem()
	return e >= Int && e <= Decimal
}

// String names t as TR-106 does; a list reads "list of int".
func (t Type) String() string {
	if !t.valid() {
		return "Type(" + strconv.Itoa(int(t)) + ")"
	}
	if t.IsList() {
		return "list of " + typeText[t.Elem()]
	}
	return typeText[t]
}
