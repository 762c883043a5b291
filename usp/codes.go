package usp

import (
	"errors"
	"strconv"
)

// Code is a USP error code (TR-369 "Error Codes"). A Code is itself an
// error, so leaf packages wrap it to say which code a failure maps to:
//
//	return fmt.Errorf("path %q: unterminated search expression: %w", p, usp.InvalidPathSyntax)
//
// CodeOf recovers the code at the one boundary that writes wire messages.
type Code uint32

// Message-level codes (7000-7031).
const (
	MessageFailed           Code = 7000
	MessageNotSupported     Code = 7001
	RequestDenied           Code = 7002
	InternalError           Code = 7003
	InvalidArguments        Code = 7004
	ResourcesExceeded       Code = 7005
	PermissionDenied        Code = 7006
	InvalidConfiguration    Code = 7007
	InvalidPathSyntax       Code = 7008
	ParameterActionFailed   Code = 7009
	UnsupportedParameter    Code = 7010
	InvalidType             Code = 7011
	InvalidValue            Code = 7012
	ParameterNotWritable    Code = 7013
	ValueConflict           Code = 7014
	OperationError          Code = 7015
	ObjectDoesNotExist      Code = 7016
	ObjectNotCreated        Code = 7017
	ObjectNotATable         Code = 7018
	ObjectNotCreatable      Code = 7019
	ObjectNotUpdated        Code = 7020
	RequiredParameterFailed Code = 7021
	CommandFailure          Code = 7022
	CommandCanceled         Code = 7023
	DeleteFailure           Code = 7024
	DuplicateKey            Code = 7025
	InvalidPath             Code = 7026
	InvalidCommandArguments Code = 7027
	RegisterFailure         Code = 7028
	AlreadyInUse            Code = 7029
	DeregisterFailure       Code = 7030
	PathAlreadyRegistered   Code = 7031
)

// Record-level codes (7100-7106), carried in an Error message answering a
// broken Record or in a DisconnectRecord.
const (
	RecordNotParsed           Code = 7100
	SecureSessionRequired     Code = 7101
	SecureSessionNotSupported Code = 7102
	SegmentationNotSupported  Code = 7103
	InvalidRecordValue        Code = 7104
	SessionContextTerminated  Code = 7105
	SessionContextNotAllowed  Code = 7106
)

var codeText = map[Code]string{
	MessageFailed:             "Message failed",
	MessageNotSupported:       "Message not supported",
	RequestDenied:             "Request denied (no reason specified)",
	InternalError:             "Internal error",
	InvalidArguments:          "Invalid arguments",
	ResourcesExceeded:         "Resources exceeded",
	PermissionDenied:          "Permission denied",
	InvalidConfiguration:      "Invalid configuration",
	InvalidPathSyntax:         "Invalid path syntax",
	ParameterActionFailed:     "Parameter action failed",
	UnsupportedParameter:      "Unsupported parameter",
	InvalidType:               "Invalid type",
	InvalidValue:              "Invalid value",
	ParameterNotWritable:      "Attempt to update non-writeable parameter",
	ValueConflict:             "Value conflict",
	OperationError:            "Operation error",
	ObjectDoesNotExist:        "Object does not exist",
	ObjectNotCreated:          "Object could not be created",
	ObjectNotATable:           "Object is not a table",
	ObjectNotCreatable:        "Attempt to create non-creatable object",
	ObjectNotUpdated:          "Object could not be updated",
	RequiredParameterFailed:   "Required parameter failed",
	CommandFailure:            "Command failure",
	CommandCanceled:           "Command canceled",
	DeleteFailure:             "Delete failure",
	DuplicateKey:              "Object exists with duplicate key",
	InvalidPath:               "Invalid path",
	InvalidCommandArguments:   "Invalid command arguments",
	RegisterFailure:           "Register failure",
	AlreadyInUse:              "Already in use",
	DeregisterFailure:         "Deregister failure",
	PathAlreadyRegistered:     "Path already registered",
	RecordNotParsed:           "Record could not be parsed",
	SecureSessionRequired:     "Secure session required",
	SecureSessionNotSupported: "Secure session not supported",
	SegmentationNotSupported:  "Segmentation and reassembly not supported",
	InvalidRecordValue:        "Invalid Record value",
	SessionContextTerminated:  "Session Context terminated",
	SessionContextNotAllowed:  "Session Context not allowed",
}

// Text is the code's name from the TR-369 error-code table. Codes in the
// data-model range (7200-7299) and the vendor range (7800-7999) have generic
// names; any other unknown code reads "Unknown error NNNN".
func (c Code) Text() string {
	if t, ok := codeText[c]; ok {
		return t
	}
	switch {
	case c >= 7200 && c <= 7299:
		return "Data model defined error"
	case c >= 7800 && c <= 7999:
		return "Vendor defined error"
	}
	return "Unknown error " + strconv.FormatUint(uint64(c), 10)
}

// Error implements error: "7008 Invalid path syntax".
func (c Code) Error() string { return strconv.FormatUint(uint64(c), 10) + " " + c.Text() }

// Known reports whether c is a code TR-369 defines or reserves (the named
// codes, 7200-7299 and 7800-7999).
func (c Code) Known() bool {
	_, ok := codeText[c]
	return ok || (c >= 7200 && c <= 7299) || (c >= 7800 && c <= 7999)
}

// CodeOf returns the USP code an error chain carries, and whether it carries
// one. An error that wraps no Code (or wraps only an unknown one) has none:
// the boundary reports it as InternalError and logs it.
func CodeOf(err error) (Code, bool) {
	var c Code
	if errors.As(err, &c) && c.Known() {
		return c, true
	}
	return InternalError, false
}
