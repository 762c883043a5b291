package mqtt

import (
	"strings"
	"unicode/utf8"
)

// replyToSep starts the MQTT 3.1.1 reply-to suffix of a topic name (USP
// §5.4): "<topic>/reply-to=<reply topic with '/' written %2F>".
const replyToSep = "/reply-to="

// expand replaces "{eid}" in a topic pattern with an endpoint ID.
func expand(pattern, eid string) string { return strings.ReplaceAll(pattern, "{eid}", eid) }

// validTopic reports whether s may be the topic name of a PUBLISH: 1 to
// 65535 bytes of UTF-8, with no NUL and no wildcard.
func validTopic(s string) bool {
	return s != "" && len(s) <= 65535 && utf8.ValidString(s) && !strings.ContainsAny(s, "+#\x00")
}

// withReplyTo appends the 3.1.1 reply-to suffix naming replyTo to topic.
func withReplyTo(topic, replyTo string) string {
	return topic + replyToSep + strings.ReplaceAll(replyTo, "/", "%2F")
}

// splitReplyTo takes the 3.1.1 reply-to suffix off a received topic name:
// the text after the last "/reply-to=", with %2F (or %2f) turned back into
// "/". ok is false, and base the whole topic, when there is no suffix or
// it does not name a valid topic.
func splitReplyTo(topic string) (base, replyTo string, ok bool) {
	i := strings.LastIndex(topic, replyToSep)
	if i < 0 {
		return topic, "", false
	}
	rt := topic[i+len(replyToSep):]
	rt = strings.ReplaceAll(strings.ReplaceAll(rt, "%2F", "/"), "%2f", "/")
	if !validTopic(rt) {
		return topic, "", false
	}
	return topic[:i], rt, true
}

// validFilter reports whether s may be a SUBSCRIBE topic filter: a topic
// name in which "+" is a whole level and "#" a whole last level.
func validFilter(s string) bool {
	if s == "" || len(s) > 65535 || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return false
	}
	levels := strings.Split(s, "/")
	for i, lv := range levels {
		if strings.ContainsAny(lv, "+#") && lv != "+" && !(lv == "#" && i == len(levels)-1) {
			return false
		}
	}
	return true
}
