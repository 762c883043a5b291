package dm

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
	pb "brickyard/usp/uspmsg"
)

// unknownTime is TR-106's Unknown Time, the default of a dateTime.
const unknownTime = "0001-01-01T00:00:00Z"

func zeroValue(t path.Type) string {
	if t.IsList() {
		return ""
	}
	switch t {
	case path.Boolean:
		return "false"
	case path.Int, path.UnsignedInt, path.Long, path.UnsignedLong, path.Decimal:
		return "0"
	case path.DateTime:
		return unknownTime
	}
	return ""
}

// canon checks that v is a valid value for p and returns it in canonical
// form (booleans "true"/"false", integers without sign or leading zeros,
// list items trimmed). A value that is not of the type wraps
// usp.InvalidType (7011); one outside the parameter's range, length or
// enumeration wraps usp.InvalidValue (7012).
func (p *Param) canon(v string, maxLen int) (string, error) {
	if p.maxLen > 0 {
		maxLen = p.maxLen
	}
	if !p.typ.IsList() {
		return p.canonItem(v, maxLen)
	}
	if len(v) > 64*maxLen {
		return "", fmt.Errorf("%s: list of %d bytes is too long: %w", p.name, len(v), usp.InvalidValue)
	}
	if strings.TrimSpace(v) == "" {
		return "", nil
	}
	items := strings.Split(v, ",")
	for i, it := range items {
		c, err := p.canonItem(strings.TrimSpace(it), maxLen)
		if err != nil {
			return "", err
		}
		items[i] = c
	}
	return strings.Join(items, ","), nil
}

func (p *Param) canonItem(v string, maxLen int) (string, error) {
	bad := func(code usp.Code, why string) (string, error) {
		return "", fmt.Errorf("%s: %q %s: %w", p.name, trunc(v), why, code)
	}
	switch p.typ.Elem() {
	case path.String, path.HexBinary, path.Base64:
		if len(v) > maxLen {
			return bad(usp.InvalidValue, fmt.Sprintf("is longer than %d bytes", maxLen))
		}
	}
	switch p.typ.Elem() {
	case path.String:
		if len(p.enum) > 0 && !slices.Contains(p.enum, v) {
			return bad(usp.InvalidValue, "is not one of "+strings.Join(p.enum, ", "))
		}
		return v, nil
	case path.Boolean:
		switch {
		case v == "1" || strings.EqualFold(v, "true"):
			return "true", nil
		case v == "0" || strings.EqualFold(v, "false"):
			return "false", nil
		}
		return bad(usp.InvalidType, "is not a boolean")
	case path.Int, path.Long:
		bits := 32
		if p.typ.Elem() == path.Long {
			bits = 64
		}
		n, err := strconv.ParseInt(v, 10, bits)
		if err != nil {
			return numErr(p, v, err)
		}
		if (p.hasMin && n < p.min) || (p.hasMax && n > p.max) {
			return bad(usp.InvalidValue, p.rangeText())
		}
		return strconv.FormatInt(n, 10), nil
	case path.UnsignedInt, path.UnsignedLong:
		bits := 32
		if p.typ.Elem() == path.UnsignedLong {
			bits = 64
		}
		if strings.HasPrefix(v, "-") {
			return bad(usp.InvalidType, "is not an unsigned integer")
		}
		n, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			return numErr(p, v, err)
		}
		if (p.hasMin && p.min > 0 && n < uint64(p.min)) || (p.hasMax && (p.max < 0 || n > uint64(p.max))) {
			return bad(usp.InvalidValue, p.rangeText())
		}
		return strconv.FormatUint(n, 10), nil
	case path.Decimal:
		if !isDecimal(v) {
			return bad(usp.InvalidType, "is not a decimal")
		}
		return v, nil
	case path.DateTime:
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return bad(usp.InvalidType, "is not a dateTime")
		}
		return v, nil
	case path.HexBinary:
		if len(v)%2 != 0 || !isHexString(v) {
			return bad(usp.InvalidType, "is not hexBinary")
		}
		return v, nil
	case path.Base64:
		if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			return bad(usp.InvalidType, "is not base64")
		}
		return v, nil
	}
	return bad(usp.InternalError, "has a type the engine does not know")
}

func numErr(p *Param, v string, err error) (string, error) {
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return "", fmt.Errorf("%s: %q is out of range for %s: %w", p.name, trunc(v), p.typ, usp.InvalidValue)
	}
	return "", fmt.Errorf("%s: %q is not of type %s: %w", p.name, trunc(v), p.typ, usp.InvalidType)
}

func (p *Param) rangeText() string {
	switch {
	case p.hasMin && p.hasMax:
		return fmt.Sprintf("is outside %d..%d", p.min, p.max)
	case p.hasMin:
		return fmt.Sprintf("is below %d", p.min)
	}
	return fmt.Sprintf("is above %d", p.max)
}

func isDecimal(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	intPart, frac, dot := strings.Cut(s, ".")
	return intPart != "" && allDigits(intPart) && (!dot || (frac != "" && allDigits(frac)))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// trunc shortens a value quoted in an error message, at a character
// boundary: error messages travel as proto3 strings, which must be UTF-8.
func trunc(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "..."
	}
	return s
}

// valueType is GetSupportedDM's ParamValueType: a list reports its base
// type as a string, since that is what travels.
func valueType(t path.Type) pb.GetSupportedDMResp_ParamValueType {
	if t.IsList() {
		return pb.GetSupportedDMResp_PARAM_STRING
	}
	switch t {
	case path.String:
		return pb.GetSupportedDMResp_PARAM_STRING
	case path.Boolean:
		return pb.GetSupportedDMResp_PARAM_BOOLEAN
	case path.Int:
		return pb.GetSupportedDMResp_PARAM_INT
	case path.UnsignedInt:
		return pb.GetSupportedDMResp_PARAM_UNSIGNED_INT
	case path.Long:
		return pb.GetSupportedDMResp_PARAM_LONG
	case path.UnsignedLong:
		return pb.GetSupportedDMResp_PARAM_UNSIGNED_LONG
	case path.Decimal:
		return pb.GetSupportedDMResp_PARAM_DECIMAL
	case path.DateTime:
		return pb.GetSupportedDMResp_PARAM_DATE_TIME
	case path.HexBinary:
		return pb.GetSupportedDMResp_PARAM_HEX_BINARY
	case path.Base64:
		return pb.GetSupportedDMResp_PARAM_BASE_64
	}
	return pb.GetSupportedDMResp_PARAM_UNKNOWN
}
