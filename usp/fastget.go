package usp

import (
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// The Get request path without protobuf's reflection: an agent answers
// Gets far more than anything else (a controller's inventory polls, a
// load test's fan-out), so OpenGet decodes a Record carrying a Get, and
// AppendGetRespRecord encodes its answer, straight from and to the wire
// bytes. Both are exact: OpenGet accepts only what Open accepts and
// decodes the same request; AppendGetRespRecord writes the bytes Seal
// writes for the same GetResp (tests compare them). Anything else, every
// error included, goes the general way (Open, Seal).

// GetRequest is a Get as OpenGet decodes it.
type GetRequest struct {
	From     string // the Record's from_id
	MsgID    string
	Paths    []string
	MaxDepth uint32
}

// Field numbers of the messages the fast path reads and writes
// (usp/proto/*.proto).
const (
	recVersion, recTo, recFrom, recSecurity, recMAC, recCert, recNoSession = 1, 2, 3, 4, 5, 6, 7
	nscPayload                                                             = 2
	msgHeader, msgBody                                                     = 1, 2
	hdrMsgID, hdrMsgType                                                   = 1, 2
	bodyRequest, bodyResponse                                              = 1, 2
	reqGet, respGet                                                        = 1, 1
	getPaths, getMaxDepth                                                  = 1, 2
	grRequested, grResolvedList                                            = 1, 4
	grRequestedPath, grErrCode, grErrMsg                                   = 1, 2, 3
	rpPath, rpParams                                                       = 1, 2
	mapKey, mapValue                                                       = 1, 2
	msgTypeGetResp                                                         = 2
)

// OpenGet decodes b when it is a no_session_context Record to c.LocalID
// carrying a Get request that Open would accept, and reports whether it
// is; paths alias nothing in b (they are copied). For any other Record,
// or one Open would refuse, ok is false: use Open.
func (c Codec) OpenGet(b []byte) (g GetRequest, ok bool) {
	if len(b) > c.maxSize() {
		return g, false
	}
	var version, to []byte
	var payload []byte
	var seen uint32 // fields met once already: a repeat goes the general way
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return g, false
		}
		b = b[n:]
		if num >= 1 && num <= 31 {
			if seen&(1<<num) != 0 {
				return g, false
			}
			seen |= 1 << num
		}
		switch {
		case (num == recVersion || num == recTo || num == recFrom || num == recMAC || num == recCert || num == recNoSession) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return g, false
			}
			b = b[n:]
			switch num {
			case recVersion:
				version = v
			case recTo:
				to = v
			case recFrom:
				g.From = string(v)
			case recNoSession:
				payload = v
			}
		case num == recSecurity && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 || v != 0 {
				return g, false
			}
			b = b[n:]
		default:
			return g, false // another record type, an unknown field: the general way
		}
	}
	if !validVersion(version) || g.From == "" || !utf8.ValidString(g.From) || string(to) != c.LocalID || payload == nil {
		return g, false
	}
	// NoSessionContextRecord{payload = 2}.
	var msg []byte
	seen = 0
	for len(payload) > 0 {
		num, typ, n := protowire.ConsumeTag(payload)
		if n < 0 || num != nscPayload || typ != protowire.BytesType || seen != 0 {
			return g, false
		}
		seen = 1
		payload = payload[n:]
		if msg, n = protowire.ConsumeBytes(payload); n < 0 {
			return g, false
		}
		payload = payload[n:]
	}
	if len(msg) == 0 {
		return g, false
	}
	return g, g.parseMsg(msg)
}

// validVersion is versionRE ("1.x") without the regexp.
func validVersion(v []byte) bool {
	if len(v) < 3 || v[0] != '1' || v[1] != '.' {
		return false
	}
	for _, c := range v[2:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseMsg reads Msg{header{msg_id, msg_type}, body{request{get{…}}}}.
func (g *GetRequest) parseMsg(b []byte) bool {
	var header, body []byte
	var seen uint32
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType || (num != msgHeader && num != msgBody) || seen&(1<<num) != 0 {
			return false
		}
		seen |= 1 << num
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if num == msgHeader {
			header = v
		} else {
			body = v
		}
	}
	if header == nil || body == nil {
		return false
	}
	seen = 0
	for len(header) > 0 {
		num, typ, n := protowire.ConsumeTag(header)
		if n < 0 || seen&(1<<num) != 0 {
			return false
		}
		seen |= 1 << num
		header = header[n:]
		switch {
		case num == hdrMsgID && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(header)
			if n < 0 || !utf8.Valid(v) {
				return false
			}
			g.MsgID, header = string(v), header[n:]
		case num == hdrMsgType && typ == protowire.VarintType:
			_, n := protowire.ConsumeVarint(header)
			if n < 0 {
				return false
			}
			header = header[n:]
		default:
			return false
		}
	}
	if g.MsgID == "" {
		return false
	}
	req, ok := only(body, bodyRequest)
	if !ok {
		return false
	}
	get, ok := only(req, reqGet)
	if !ok {
		return false
	}
	var depthSeen bool
	for len(get) > 0 {
		num, typ, n := protowire.ConsumeTag(get)
		if n < 0 {
			return false
		}
		get = get[n:]
		switch {
		case num == getPaths && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(get)
			if n < 0 || !utf8.Valid(v) {
				return false
			}
			g.Paths, get = append(g.Paths, string(v)), get[n:]
		case num == getMaxDepth && typ == protowire.Fixed32Type && !depthSeen:
			v, n := protowire.ConsumeFixed32(get)
			if n < 0 {
				return false
			}
			g.MaxDepth, get, depthSeen = v, get[n:], true
		default:
			return false
		}
	}
	return true
}

// only returns the value of b's one field, which must be field num of
// wire type bytes.
func only(b []byte, num protowire.Number) ([]byte, bool) {
	n0, typ, n := protowire.ConsumeTag(b)
	if n < 0 || n0 != num || typ != protowire.BytesType {
		return nil, false
	}
	v, m := protowire.ConsumeBytes(b[n:])
	if m < 0 || n+m != len(b) {
		return nil, false
	}
	return v, true
}

// GetResult is one requested path's answer in a GetResp, as the data
// model computes it: an error, or the resolved objects with their
// parameters.
type GetResult struct {
	Requested string
	ErrCode   uint32
	ErrMsg    string
	Resolved  []ResolvedParams
}

// ResolvedParams is one resolved object and its parameters. Params must
// be sorted by Name, as a deterministic encoding of the result_params map
// is.
type ResolvedParams struct {
	Path   string
	Params []Param
}

// Param is one parameter of a ResolvedParams.
type Param struct{ Name, Value string }

// AppendGetRespRecord appends to dst the Record to the endpoint to that
// carries the GetResp of msgID with results: the bytes
// Seal(to, NewResponse(msgID, GetResp{…})) writes. It sizes every nested
// message first (once each), so it writes each byte once into one
// allocation.
func (c Codec) AppendGetRespRecord(dst []byte, to, msgID string, results []GetResult) []byte {
	// Sizes, innermost first: one per requested path and per resolved
	// object, kept for the writing pass.
	var small [32]int
	sizes := small[:0]
	getResp := 0
	for i := range results {
		r := &results[i]
		n := strField(grRequestedPath, r.Requested) + strField(grErrMsg, r.ErrMsg)
		if r.ErrCode != 0 {
			n += 1 + 4
		}
		at := len(sizes)
		sizes = append(sizes, 0)
		for j := range r.Resolved {
			rp := &r.Resolved[j]
			m := strField(rpPath, rp.Path)
			for _, p := range rp.Params {
				e := 2 + protowire.SizeVarint(uint64(len(p.Name))) + len(p.Name) + protowire.SizeVarint(uint64(len(p.Value))) + len(p.Value)
				m += 1 + protowire.SizeVarint(uint64(e)) + e
			}
			sizes = append(sizes, m)
			n += 1 + protowire.SizeVarint(uint64(m)) + m
		}
		sizes[at] = n
		getResp += 1 + protowire.SizeVarint(uint64(n)) + n
	}
	resp := lenField(respGet, getResp)
	body := lenField(bodyResponse, resp)
	header := strField(hdrMsgID, msgID) + 2
	msg := lenField(msgHeader, header) + lenField(msgBody, body)
	nsc := lenField(nscPayload, msg)
	record := strField(recVersion, Version) + strField(recTo, to) + strField(recFrom, c.LocalID) + lenField(recNoSession, nsc)

	dst = growCap(dst, record)
	dst = appendStr(dst, recVersion, Version)
	dst = appendStr(dst, recTo, to)
	dst = appendStr(dst, recFrom, c.LocalID)
	dst = appendLen(dst, recNoSession, nsc)
	dst = appendLen(dst, nscPayload, msg)
	dst = appendLen(dst, msgHeader, header)
	dst = appendStr(dst, hdrMsgID, msgID)
	dst = append(dst, hdrMsgType<<3|byte(protowire.VarintType), msgTypeGetResp)
	dst = appendLen(dst, msgBody, body)
	dst = appendLen(dst, bodyResponse, resp)
	dst = appendLen(dst, respGet, getResp)
	k := 0
	for i := range results {
		r := &results[i]
		dst = appendLen(dst, grRequested, sizes[k])
		k++
		dst = appendStr(dst, grRequestedPath, r.Requested)
		if r.ErrCode != 0 {
			dst = append(dst, grErrCode<<3|byte(protowire.Fixed32Type))
			dst = protowire.AppendFixed32(dst, r.ErrCode)
		}
		dst = appendStr(dst, grErrMsg, r.ErrMsg)
		for j := range r.Resolved {
			rp := &r.Resolved[j]
			dst = appendLen(dst, grResolvedList, sizes[k])
			k++
			dst = appendStr(dst, rpPath, rp.Path)
			for _, p := range rp.Params {
				e := 2 + protowire.SizeVarint(uint64(len(p.Name))) + len(p.Name) + protowire.SizeVarint(uint64(len(p.Value))) + len(p.Value)
				dst = appendLen(dst, rpParams, e)
				// Map entries carry key and value even when empty.
				dst = appendVarint(append(dst, mapKey<<3|byte(protowire.BytesType)), len(p.Name))
				dst = append(dst, p.Name...)
				dst = appendVarint(append(dst, mapValue<<3|byte(protowire.BytesType)), len(p.Value))
				dst = append(dst, p.Value...)
			}
		}
	}
	return dst
}

// strField is the size of a proto3 string field (omitted when empty); the
// fields written here all have one-byte tags.
func strField(_ protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return 1 + protowire.SizeVarint(uint64(len(s))) + len(s)
}

// lenField is the size of an embedded message field of n bytes (always
// written, even empty: a set message field).
func lenField(_ protowire.Number, n int) int {
	return 1 + protowire.SizeVarint(uint64(n)) + n
}

func appendStr(dst []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return dst
	}
	dst = appendVarint(append(dst, byte(num)<<3|byte(protowire.BytesType)), len(s))
	return append(dst, s...)
}

func appendLen(dst []byte, num protowire.Number, n int) []byte {
	return appendVarint(append(dst, byte(num)<<3|byte(protowire.BytesType)), n)
}

// appendVarint is protowire.AppendVarint with the one-byte case inline.
func appendVarint(dst []byte, n int) []byte {
	if n < 0x80 {
		return append(dst, byte(n))
	}
	return protowire.AppendVarint(dst, uint64(n))
}

// growCap makes room for n more bytes in one allocation.
func growCap(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	out := make([]byte, len(dst), len(dst)+n)
	copy(out, dst)
	return out
}
