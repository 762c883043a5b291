package usp

import (
	"errors"
	"fmt"
)

// Error is a failure to report to a USP peer: a code, a message written for
// the peer, optional per-parameter failures (Error.param_errs on the wire),
// and the cause. The message is what the peer reads; the cause stays local.
type Error struct {
	Code   Code
	Msg    string
	Params []ParamError
	Err    error // cause, kept for errors.Is/As; never sent
}

// ParamError is one parameter's failure inside an Error.
type ParamError struct {
	Path string // full parameter path
	Code Code
	Msg  string
}

// Errorf returns an *Error with the given code and a message formatted as
// fmt.Errorf does; a %w verb keeps its operand as the cause.
func Errorf(code Code, format string, args ...any) error {
	wrapped := fmt.Errorf(format, args...)
	return &Error{Code: code, Msg: wrapped.Error(), Err: errors.Unwrap(wrapped)}
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return e.Code.Error()
	}
	return e.Code.Error() + ": " + e.Msg
}

// Unwrap yields the code first, so CodeOf finds it, then the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Code}
	}
	return []error{e.Code, e.Err}
}
