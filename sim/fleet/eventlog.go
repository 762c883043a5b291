package fleet

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// LogFormat is how the runners write the event log (docs/events.md).
type LogFormat uint8

const (
	// LogText is one line an event: its time (UTC, nanoseconds, fixed
	// width), the device's endpoint ID, the kind and the detail,
	// separated by spaces.
	LogText LogFormat = iota
	// LogJSON is one JSON object a line: {"at", "device", "kind",
	// "detail", "fields"}, "at" first and of fixed width so that lines
	// sort by time as text.
	LogJSON
)

// ParseLogFormat reads an event log format's name: text (or "") or json.
func ParseLogFormat(s string) (LogFormat, error) {
	switch s {
	case "", "text":
		return LogText, nil
	case "json":
		return LogJSON, nil
	}
	return 0, fmt.Errorf("%q: want text or json", s)
}

// StampWidth is how many leading bytes of a line of the format hold its
// time in a form that sorts as text (for merging logs in time order).
func (f LogFormat) StampWidth() int {
	if f == LogJSON {
		return len(`{"at":"`) + len(stampLayout) + 1
	}
	return len(stampLayout)
}

const stampLayout = "2006-01-02T15:04:05.000000000Z"

// AppendEvent appends one event as a line of format f (newline included).
// In the JSON form "fields" holds the detail's key=value tokens (values
// as strings; a token without "=" is left out; a later key wins).
func AppendEvent(b []byte, f LogFormat, at time.Time, id, kind, detail string) []byte {
	if f != LogJSON {
		b = at.UTC().AppendFormat(b, stampLayout)
		b = append(b, ' ')
		b = append(b, id...)
		b = append(b, ' ')
		b = append(b, kind...)
		if detail != "" {
			b = append(b, ' ')
			b = append(b, detail...)
		}
		return append(b, '\n')
	}
	b = append(b, `{"at":"`...)
	b = at.UTC().AppendFormat(b, stampLayout)
	b = append(b, `","device":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, kind)
	b = append(b, `,"detail":`...)
	b = appendJSONString(b, detail)
	b = append(b, `,"fields":{`...)
	first := true
	for tok := range strings.FieldsSeq(detail) {
		k, v, ok := strings.Cut(tok, "=")
		if !ok || k == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, v)
	}
	return append(b, "}}\n"...)
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
