package e2e

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"brickyard/usp"
	rec "brickyard/usp/usprecord"
)

// Config is a Session's limits and timers. Zero fields take the defaults.
type Config struct {
	// MaxRecordSize is the largest Record this end sends, in bytes: the
	// peer's MaxUSPRecordSize (TR-181 E2ESession.MaxUSPRecordSize). A
	// larger payload is segmented. 0: no segmentation. It must leave room
	// for the Record's header: at least MinRecordSize.
	MaxRecordSize int
	// Expiration ends a session without Record activity for this long
	// (E2ESession.SessionExpiration); 0: never.
	Expiration time.Duration
	// RetransmitWait is how long a gap, an unfinished segmented payload
	// or an unacknowledged Record waits before this end asks (or sends)
	// again. Default DefaultRetransmitWait.
	RetransmitWait time.Duration
	// MaxRetransmitTries bounds the retransmissions of one Record, and
	// the requests for one missing Record (E2ESession.MaxRetransmitTries);
	// past it the session fails. Default 3.
	MaxRetransmitTries int
	// MaxMessageSize bounds a reassembled payload. Default 4 MiB.
	MaxMessageSize int
	// MaxBuffered bounds the Records kept on each side: received ahead of
	// a gap, and sent but not acknowledged. Default 128.
	MaxBuffered int
}

// Defaults of Config.
const (
	DefaultRetransmitWait     = 3 * time.Second
	DefaultMaxRetransmitTries = 3
	DefaultMaxMessageSize     = 4 << 20
	DefaultMaxBuffered        = 128
	// MinRecordSize is the smallest MaxRecordSize accepted: obuspa's
	// lower bound for MaxUSPRecordSize.
	MinRecordSize = 512
)

func (c Config) withDefaults() Config {
	if c.RetransmitWait <= 0 {
		c.RetransmitWait = DefaultRetransmitWait
	}
	if c.MaxRetransmitTries <= 0 {
		c.MaxRetransmitTries = DefaultMaxRetransmitTries
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxBuffered <= 0 {
		c.MaxBuffered = DefaultMaxBuffered
	}
	return c
}

// Check reports a Config that cannot work: a MaxRecordSize below
// MinRecordSize, negative sizes or durations.
func (c Config) Check() error {
	switch {
	case c.MaxRecordSize != 0 && c.MaxRecordSize < MinRecordSize:
		return fmt.Errorf("e2e: MaxRecordSize %d is below %d bytes", c.MaxRecordSize, MinRecordSize)
	case c.MaxRecordSize < 0 || c.MaxMessageSize < 0 || c.MaxBuffered < 0 || c.MaxRetransmitTries < 0:
		return errors.New("e2e: negative size in Config")
	case c.Expiration < 0 || c.RetransmitWait < 0:
		return errors.New("e2e: negative duration in Config")
	}
	return nil
}

// The ways a session fails. Each wraps the USP code a DisconnectRecord
// ending the session carries (usp.SessionContextTerminated, or the
// Record-level code of the fault).
var (
	ErrExpired        = fmt.Errorf("e2e: session expired: %w", usp.SessionContextTerminated)
	ErrRetransmit     = fmt.Errorf("e2e: retransmission failed: %w", usp.SessionContextTerminated)
	ErrSequence       = fmt.Errorf("e2e: sequence_id out of range: %w", usp.InvalidRecordValue)
	ErrSegmentation   = fmt.Errorf("e2e: segmentation and reassembly failed: %w", usp.InvalidRecordValue)
	ErrTooLarge       = fmt.Errorf("e2e: reassembled payload too large: %w", usp.InvalidRecordValue)
	ErrPayloadSecured = fmt.Errorf("e2e: payload_security TLS12 is not supported: %w", usp.SecureSessionNotSupported)
	ErrExhausted      = fmt.Errorf("e2e: sequence_id space exhausted (R-E2E.9): %w", usp.SessionContextTerminated)
	ErrFailed         = fmt.Errorf("e2e: the session has failed: %w", usp.SessionContextTerminated)
)

// seqLimit is where a session must be replaced (R-E2E.8, R-E2E.9).
const seqLimit = math.MaxUint64 - 10000

// Session is one end of a Session Context with one peer.
type Session struct {
	cfg    Config
	local  string
	remote string
	id     uint64

	next     uint64 // the next sequence_id to send
	expected uint64 // the next sequence_id expected from the peer
	peerExp  uint64 // the highest expected_id the peer sent

	out []sent // sent, not acknowledged, by sequence_id
	in  []held // received ahead of expected, by sequence_id

	sar   []byte // the segments of a payload in reassembly
	inSAR bool

	lastActivity time.Time // a Record sent or received
	progress     time.Time // the last time expected advanced (or a gap appeared)
	askedAt      time.Time // when expected was last asked for; zero: not asked
	askTries     int
	ackAt        time.Time // an empty acknowledgement is due; zero: none
	failed       error
}

type sent struct {
	seq     uint64
	data    []byte
	payload bool // carries a payload: resent when not acknowledged
	tries   int
	at      time.Time
}

type held struct {
	seq uint64
	sc  *rec.SessionContextRecord
}

// New starts a session to remote as its originator: id must be > 1
// (R-E2E.3) and not in use with remote. Send's first Record establishes
// it (R-E2E.4).
func New(cfg Config, local, remote string, id uint64, now time.Time) (*Session, error) {
	if id <= 1 {
		return nil, fmt.Errorf("e2e: session_id %d: it must be greater than 1 (R-E2E.3): %w", id, usp.InvalidRecordValue)
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	return &Session{cfg: cfg.withDefaults(), local: local, remote: remote, id: id, next: 1, expected: 1,
		lastActivity: now, progress: now}, nil
}

// Accept starts this end of the session the peer began with id
// (R-E2E.4, R-E2E.6): the peer's first Record is sequence_id 1.
func Accept(cfg Config, local, remote string, id uint64, now time.Time) (*Session, error) {
	return New(cfg, local, remote, id, now)
}

// ID is the session_id.
func (s *Session) ID() uint64 { return s.id }

// Remote is the peer's Endpoint ID.
func (s *Session) Remote() string { return s.remote }

// Failed is why the session failed, nil while it works. A failed Session
// sends and accepts nothing more.
func (s *Session) Failed() error { return s.failed }

func (s *Session) fail(err error) error {
	if s.failed == nil {
		s.failed = err
	}
	return err
}

// Send segments payload (an encoded USP Msg) into session_context Records
// and returns them encoded, in order, to be sent on the MTP. The Records
// are kept until the peer acknowledges them.
func (s *Session) Send(payload []byte, now time.Time) ([][]byte, error) {
	if s.failed != nil {
		return nil, ErrFailed
	}
	if len(payload) == 0 {
		return nil, fmt.Errorf("e2e: empty payload: %w", usp.InvalidRecordValue)
	}
	var out [][]byte
	for first := true; len(payload) > 0 || first; first = false {
		if s.next >= seqLimit {
			return out, s.fail(ErrExhausted)
		}
		r := s.record()
		sc := r.GetSessionContext()
		// Measured with the SAR states set: BEGIN, INPROCESS and COMPLETE
		// take two bytes each, NONE none.
		sc.PayloadSarState, sc.PayloadrecSarState = rec.SessionContextRecord_INPROCESS, rec.SessionContextRecord_INPROCESS
		chunk := len(payload)
		if s.cfg.MaxRecordSize > 0 {
			room := s.cfg.MaxRecordSize - proto.Size(r) - 1 - varintLen(uint64(s.cfg.MaxRecordSize))
			if room <= 0 {
				return out, fmt.Errorf("e2e: MaxRecordSize %d leaves no room for a payload: %w", s.cfg.MaxRecordSize, usp.InvalidConfiguration)
			}
			chunk = min(chunk, room)
		}
		sc.Payload = [][]byte{payload[:chunk]}
		// The estimate left the outer lengths' varints at their size for
		// an empty payload: take off what they grew by.
		for s.cfg.MaxRecordSize > 0 && chunk > 1 {
			over := proto.Size(r) - s.cfg.MaxRecordSize
			if over <= 0 {
				break
			}
			chunk -= min(over, chunk-1)
			sc.Payload[0] = payload[:chunk]
		}
		payload = payload[chunk:]
		state := rec.SessionContextRecord_NONE
		switch {
		case first && len(payload) == 0:
		case first:
			state = rec.SessionContextRecord_BEGIN
		case len(payload) == 0:
			state = rec.SessionContextRecord_COMPLETE
		default:
			state = rec.SessionContextRecord_INPROCESS
		}
		sc.PayloadSarState, sc.PayloadrecSarState = state, state
		b, err := s.emit(r, true, now)
		if err != nil {
			return out, err
		}
		out = append(out, b)
	}
	return out, nil
}

// record is a new session_context Record with the next sequence_id.
func (s *Session) record() *rec.Record {
	sc := &rec.SessionContextRecord{SessionId: s.id, SequenceId: s.next, ExpectedId: s.expected}
	return &rec.Record{Version: usp.Version, ToId: s.remote, FromId: s.local,
		RecordType: &rec.Record_SessionContext{SessionContext: sc}}
}

// emit encodes r, keeps it for retransmission and advances the sequence.
func (s *Session) emit(r *rec.Record, payload bool, now time.Time) ([]byte, error) {
	b, err := usp.Codec{LocalID: s.local}.Marshal(r)
	if err != nil {
		return nil, s.fail(err)
	}
	if len(s.out) >= s.cfg.MaxBuffered {
		s.out = slices.Delete(s.out, 0, 1) // the oldest: asking for it again fails the session
	}
	s.out = append(s.out, sent{seq: s.next, data: b, payload: payload, at: now})
	s.next++
	s.lastActivity = now
	s.ackAt = time.Time{} // this Record carries expected_id
	return b, nil
}

// empty is a Record without payload: an acknowledgement, or a request to
// retransmit (retransmit_id not 0).
func (s *Session) empty(retransmit uint64, now time.Time) ([]byte, error) {
	if s.next >= seqLimit {
		return nil, s.fail(ErrExhausted)
	}
	r := s.record()
	r.GetSessionContext().RetransmitId = retransmit
	return s.emit(r, false, now)
}

// Result is what a received Record yields: the payloads it completed (in
// order) and the Records to send in answer (retransmissions the peer
// asked for, requests for missing Records, acknowledgements).
type Result struct {
	Payloads [][]byte
	Out      [][]byte
}

// Receive processes one session_context Record of this session from the
// peer: the caller has checked its version, addressing and session_id.
// An error fails the session (Failed): the caller replaces it.
func (s *Session) Receive(r *rec.Record, now time.Time) (Result, error) {
	var res Result
	if s.failed != nil {
		return res, ErrFailed
	}
	sc := r.GetSessionContext()
	switch {
	case sc == nil || sc.GetSessionId() != s.id:
		return res, fmt.Errorf("e2e: not a Record of session %d: %w", s.id, usp.InvalidRecordValue)
	case r.GetPayloadSecurity() != rec.Record_PLAINTEXT:
		return res, s.fail(ErrPayloadSecured)
	case sc.GetSequenceId() == 0 || sc.GetSequenceId() >= seqLimit:
		return res, s.fail(fmt.Errorf("%w: %d", ErrSequence, sc.GetSequenceId()))
	}
	if sc.GetExpectedId() > s.next {
		return res, s.fail(fmt.Errorf("%w: expected_id %d acknowledges Records never sent (the next is %d)", ErrSequence, sc.GetExpectedId(), s.next))
	}
	s.lastActivity = now
	s.ack(sc.GetExpectedId())
	seq := sc.GetSequenceId()
	if seq < s.expected {
		// A duplicate (R-E2E.25): the peer may have missed our
		// acknowledgement; give it one now.
		b, err := s.empty(0, now)
		if err != nil {
			return res, err
		}
		res.Out = append(res.Out, b)
		return res, nil
	}
	if err := s.retransmit(sc.GetRetransmitId(), &res, now); err != nil {
		return res, err
	}
	if seq > s.expected {
		if seq-s.expected > uint64(s.cfg.MaxBuffered) {
			return res, s.fail(fmt.Errorf("%w: %d is %d ahead of the expected %d", ErrSequence, seq, seq-s.expected, s.expected))
		}
		i, found := slices.BinarySearchFunc(s.in, seq, func(h held, q uint64) int { return cmpU64(h.seq, q) })
		if !found {
			s.in = slices.Insert(s.in, i, held{seq: seq, sc: sc})
		}
		if s.askedAt.IsZero() { // a gap: ask for the missing Record at once
			if err := s.ask(&res, now); err != nil {
				return res, err
			}
		}
		return res, nil
	}
	delivered := false
	for {
		if err := s.take(sc, &res); err != nil {
			return res, err
		}
		delivered = delivered || len(sc.GetPayload()) > 0
		s.expected++
		s.progress, s.askedAt, s.askTries = now, time.Time{}, 0
		if len(s.in) == 0 || s.in[0].seq != s.expected {
			break
		}
		sc = s.in[0].sc // its retransmit_id was answered when it arrived
		s.in = slices.Delete(s.in, 0, 1)
	}
	if len(s.in) > 0 || s.inSAR {
		s.progress = now
	}
	if delivered && len(res.Out) == 0 {
		s.ackAt = now.Add(s.cfg.RetransmitWait / 4)
	}
	return res, nil
}

// ack drops the sent Records the peer's expected_id acknowledges.
func (s *Session) ack(e uint64) {
	if e <= s.peerExp {
		return
	}
	s.peerExp = e
	n := 0
	for n < len(s.out) && s.out[n].seq < e {
		n++
	}
	s.out = slices.Delete(s.out, 0, n)
}

// retransmit answers the peer's retransmit_id n (0: none).
func (s *Session) retransmit(n uint64, res *Result, now time.Time) error {
	if n == 0 || n < s.peerExp {
		return nil // none, or stale: the peer has it since
	}
	i, found := slices.BinarySearchFunc(s.out, n, func(x sent, q uint64) int { return cmpU64(x.seq, q) })
	switch {
	case !found:
		return s.fail(fmt.Errorf("%w: the peer asked for Record %d, which is not kept", ErrRetransmit, n))
	case s.out[i].tries >= s.cfg.MaxRetransmitTries:
		return s.fail(fmt.Errorf("%w: Record %d sent again %d times", ErrRetransmit, n, s.out[i].tries))
	}
	s.out[i].tries++
	s.out[i].at = now
	s.lastActivity = now
	res.Out = append(res.Out, s.out[i].data)
	return nil
}

// ask requests the expected Record (retransmit_id).
func (s *Session) ask(res *Result, now time.Time) error {
	if s.askTries >= s.cfg.MaxRetransmitTries {
		return s.fail(fmt.Errorf("%w: Record %d asked for %d times", ErrRetransmit, s.expected, s.askTries))
	}
	s.askTries++
	s.askedAt = now
	s.progress = now
	b, err := s.empty(s.expected, now)
	if err != nil {
		return err
	}
	res.Out = append(res.Out, b)
	return nil
}

// take passes on the payload of the expected Record, honouring its SAR
// state (PLAINTEXT: payload_sar_state and payloadrec_sar_state agree).
func (s *Session) take(sc *rec.SessionContextRecord, res *Result) error {
	st := sc.GetPayloadSarState()
	if st != sc.GetPayloadrecSarState() || st < rec.SessionContextRecord_NONE || st > rec.SessionContextRecord_COMPLETE {
		return s.fail(fmt.Errorf("%w: Record %d has payload_sar_state %v and payloadrec_sar_state %v", ErrSegmentation,
			sc.GetSequenceId(), st, sc.GetPayloadrecSarState()))
	}
	size := 0
	for _, p := range sc.GetPayload() {
		size += len(p)
	}
	if len(s.sar)+size > s.cfg.MaxMessageSize {
		return s.fail(fmt.Errorf("%w: more than %d bytes", ErrTooLarge, s.cfg.MaxMessageSize))
	}
	switch st {
	case rec.SessionContextRecord_NONE:
		if s.inSAR {
			return s.fail(fmt.Errorf("%w: Record %d is unsegmented inside a segmented payload", ErrSegmentation, sc.GetSequenceId()))
		}
		if size > 0 {
			res.Payloads = append(res.Payloads, join(sc.GetPayload(), size))
		}
		return nil
	case rec.SessionContextRecord_BEGIN:
		if s.inSAR {
			return s.fail(fmt.Errorf("%w: Record %d begins a payload inside another", ErrSegmentation, sc.GetSequenceId()))
		}
		s.inSAR, s.sar = true, make([]byte, 0, size)
	default: // INPROCESS, COMPLETE
		if !s.inSAR {
			return s.fail(fmt.Errorf("%w: Record %d continues a payload that did not begin", ErrSegmentation, sc.GetSequenceId()))
		}
	}
	for _, p := range sc.GetPayload() {
		s.sar = append(s.sar, p...)
	}
	if st == rec.SessionContextRecord_COMPLETE {
		if len(s.sar) > 0 {
			res.Payloads = append(res.Payloads, s.sar)
		}
		s.sar, s.inSAR = nil, false
	}
	return nil
}

func join(ps [][]byte, size int) []byte {
	if len(ps) == 1 {
		return ps[0]
	}
	out := make([]byte, 0, size)
	for _, p := range ps {
		out = append(out, p...)
	}
	return out
}

// Tick runs the session's timers at now: asks again for a missing Record,
// sends again an unacknowledged one, acknowledges, or expires the session
// (ErrExpired). It returns the Records to send.
func (s *Session) Tick(now time.Time) ([][]byte, error) {
	if s.failed != nil {
		return nil, ErrFailed
	}
	if s.cfg.Expiration > 0 && !now.Before(s.lastActivity.Add(s.cfg.Expiration)) {
		return nil, s.fail(ErrExpired)
	}
	var res Result
	wait := s.cfg.RetransmitWait
	if (len(s.in) > 0 || s.inSAR) && !now.Before(s.progress.Add(wait)) {
		if err := s.ask(&res, now); err != nil {
			return res.Out, err
		}
	}
	for i := range s.out {
		x := &s.out[i]
		if !x.payload || now.Before(x.at.Add(wait)) {
			continue
		}
		if x.tries >= s.cfg.MaxRetransmitTries {
			return res.Out, s.fail(fmt.Errorf("%w: Record %d not acknowledged after %d retransmissions", ErrRetransmit, x.seq, x.tries))
		}
		x.tries++
		x.at = now
		s.lastActivity = now
		res.Out = append(res.Out, x.data)
		break // the oldest: the peer asks for whatever else it misses
	}
	if !s.ackAt.IsZero() && !now.Before(s.ackAt) && len(res.Out) == 0 {
		b, err := s.empty(0, now)
		if err != nil {
			return res.Out, err
		}
		res.Out = append(res.Out, b)
	}
	return res.Out, nil
}

// Wake is when Tick must next be called; zero when no timer runs.
func (s *Session) Wake() time.Time {
	if s.failed != nil {
		return time.Time{}
	}
	var t time.Time
	take := func(x time.Time) {
		if !x.IsZero() && (t.IsZero() || x.Before(t)) {
			t = x
		}
	}
	if s.cfg.Expiration > 0 {
		take(s.lastActivity.Add(s.cfg.Expiration))
	}
	if len(s.in) > 0 || s.inSAR {
		take(s.progress.Add(s.cfg.RetransmitWait))
	}
	for _, x := range s.out {
		if x.payload {
			take(x.at.Add(s.cfg.RetransmitWait))
		}
	}
	take(s.ackAt)
	return t
}

// Pending is the number of sent Records not yet acknowledged.
func (s *Session) Pending() int { return len(s.out) }

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
