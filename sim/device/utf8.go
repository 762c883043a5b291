package device

import (
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "brickyard/usp/uspmsg"
)

// clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// seal encodes m for to. A proto3 string must be valid UTF-8: when the
// data model echoes a request's bytes cut in the middle of a character
// (usp/dm truncates long paths in error messages at a byte count), the
// Msg cannot be encoded; its strings are then repaired (invalid bytes
// become U+FFFD) and it is encoded again, so the request is still answered.
func (d *Device) seal(to string, m *pb.Msg) ([]byte, error) {
	b, err := d.codec().Seal(to, m)
	if err == nil {
		return b, nil
	}
	m = proto.Clone(m).(*pb.Msg)
	repair(m.ProtoReflect())
	return d.codec().Seal(to, m)
}

func repair(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			repairMap(fd, v.Map())
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				switch fd.Kind() {
				case protoreflect.StringKind:
					if s := l.Get(i).String(); !utf8.ValidString(s) {
						l.Set(i, protoreflect.ValueOfString(strings.ToValidUTF8(s, "\uFFFD")))
					}
				case protoreflect.MessageKind:
					repair(l.Get(i).Message())
				}
			}
		case fd.Kind() == protoreflect.StringKind:
			if s := v.String(); !utf8.ValidString(s) {
				m.Set(fd, protoreflect.ValueOfString(strings.ToValidUTF8(s, "\uFFFD")))
			}
		case fd.Kind() == protoreflect.MessageKind:
			repair(v.Message())
		}
		return true
	})
}

// repairMap rebuilds a map whose string keys or values are not UTF-8.
func repairMap(fd protoreflect.FieldDescriptor, mp protoreflect.Map) {
	strKey, strVal := fd.MapKey().Kind() == protoreflect.StringKind, fd.MapValue().Kind() == protoreflect.StringKind
	type entry struct {
		k string
		v protoreflect.Value
	}
	var all []entry
	bad := false
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		if fd.MapValue().Kind() == protoreflect.MessageKind {
			repair(v.Message())
		}
		if strKey && !utf8.ValidString(k.String()) || strVal && !utf8.ValidString(v.String()) {
			bad = true
		}
		all = append(all, entry{k.String(), v})
		return true
	})
	if !bad || !strKey {
		return
	}
	for _, e := range all {
		mp.Clear(protoreflect.ValueOfString(e.k).MapKey())
	}
	for _, e := range all {
		v := e.v
		if strVal {
			v = protoreflect.ValueOfString(strings.ToValidUTF8(v.String(), "\uFFFD"))
		}
		mp.Set(protoreflect.ValueOfString(strings.ToValidUTF8(e.k, "\uFFFD")).MapKey(), v)
	}
}
