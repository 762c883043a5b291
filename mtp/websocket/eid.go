package websocket

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Endpoint IDs on the wire: the "eid" query item of the handshake URL
// (R-WS.10c) and the deprecated bbf-usp-protocol extension (R-WS.10a).

// encodeEID percent-encodes an endpoint ID as obuspa does: every byte but
// the unreserved A-Z a-z 0-9 - . _ ~ becomes %HH (upper-case hex).
func encodeEID(eid string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(eid) + 8)
	for i := 0; i < len(eid); i++ {
		c := eid[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// queryItem returns the raw value of the first item key of a raw query.
func queryItem(rawQuery, key string) (string, bool) {
	for rest := rawQuery; rest != ""; {
		var item string
		item, rest, _ = strings.Cut(rest, "&")
		if k, v, _ := strings.Cut(item, "="); k == key {
			return v, true
		}
	}
	return "", false
}

var errNoEID = errors.New("no eid query item")

// parseEID reads the agent's endpoint ID from a raw handshake query: the
// one "eid" item, percent-decoded. Only %HH is decoded ("+" is a plus
// sign: this is RFC 3986, not a form). An empty ID, a second eid item, a
// broken escape or a control character is an error.
func parseEID(rawQuery string) (string, error) {
	var raw string
	n := 0
	for rest := rawQuery; rest != ""; {
		var item string
		item, rest, _ = strings.Cut(rest, "&")
		if k, v, _ := strings.Cut(item, "="); k == "eid" {
			raw = v
			n++
		}
	}
	switch {
	case n == 0:
		return "", errNoEID
	case n > 1:
		return "", errors.New("more than one eid query item")
	}
	eid, err := percentDecode(raw)
	if err != nil {
		return "", fmt.Errorf("eid %q: %w", raw, err)
	}
	return eid, checkEID(eid)
}

func checkEID(eid string) error {
	if eid == "" {
		return errors.New("empty eid")
	}
	for i := 0; i < len(eid); i++ {
		if eid[i] < 0x20 || eid[i] == 0x7f {
			return fmt.Errorf("eid %q holds a control character", eid)
		}
	}
	return nil
}

func percentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", errors.New("broken percent escape")
		}
		b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	return string(b), nil
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

const extName = "bbf-usp-protocol"

// extensionEID looks for the bbf-usp-protocol extension in the
// Sec-WebSocket-Extensions headers of h: offered reports that it is there,
// eid is its eid parameter (unquoted) if it has one.
func extensionEID(h http.Header) (eid string, offered bool) {
	for _, v := range h.Values("Sec-Websocket-Extensions") {
		for _, ext := range splitQuoted(v, ',') {
			params := splitQuoted(ext, ';')
			if len(params) == 0 || !strings.EqualFold(strings.TrimSpace(params[0]), extName) {
				continue
			}
			offered = true
			for _, p := range params[1:] {
				k, val, ok := strings.Cut(p, "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "eid") {
					return unquote(strings.TrimSpace(val)), true
				}
			}
			return "", true
		}
	}
	return "", false
}

// extensionValue is the bbf-usp-protocol answer naming eid.
func extensionValue(eid string) string {
	var b strings.Builder
	b.WriteString(extName + `; eid="`)
	for i := 0; i < len(eid); i++ {
		if eid[i] == '"' || eid[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(eid[i])
	}
	b.WriteByte('"')
	return b.String()
}

// splitQuoted splits s at sep outside double-quoted strings (RFC 7230
// quoted-string, with backslash escapes).
func splitQuoted(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote removes the quotes and escapes of a quoted-string; a token is
// returned as it is.
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}
