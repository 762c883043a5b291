package image

import "fmt"

// Report explains an image to a person, whatever its format: the fields
// its headers hold, and each check a verifier made, in the order it made
// them. The formats' Describe functions fill one while they verify; the
// boot path passes none and pays nothing for it.
type Report struct {
	Format Format
	Fields []Field
	Checks []Check
}

// Field is one named value of an image's headers ("version", "tlv 0x10
// SHA256"), as text.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Check results.
const (
	CheckOK      = "ok"
	CheckFailed  = "failed"
	CheckSkipped = "not checked"
)

// Check is one verification step and how it went.
type Check struct {
	Name   string `json:"name"`   // "hash", "signature", "security counter", …
	Result string `json:"result"` // CheckOK, CheckFailed or CheckSkipped
	Detail string `json:"detail,omitempty"`
}

// Field adds a field; a nil Report ignores it.
func (r *Report) Field(name, format string, args ...any) {
	if r != nil {
		r.Fields = append(r.Fields, Field{Name: name, Value: fmt.Sprintf(format, args...)})
	}
}

// Check records the outcome of a check: ok when err is nil, failed with
// err's text otherwise. It returns err, so that a verifier can write
// `if err := rep.Check("hash", f()); err != nil { return err }`.
func (r *Report) Check(name string, err error, detail string) error {
	if r != nil {
		c := Check{Name: name, Result: CheckOK, Detail: detail}
		if err != nil {
			c.Result, c.Detail = CheckFailed, err.Error()
		}
		r.Checks = append(r.Checks, c)
	}
	return err
}

// Skip records a check that was not made and why.
func (r *Report) Skip(name, why string) {
	if r != nil {
		r.Checks = append(r.Checks, Check{Name: name, Result: CheckSkipped, Detail: why})
	}
}
