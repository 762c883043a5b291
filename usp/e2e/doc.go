// Package e2e is TR-369's End-to-End Session Context ("E2E Message
// Exchange"): session_context Records between one Agent and one
// Controller, with sequence and expected IDs, retransmission,
// segmentation and reassembly (SAR) of payloads larger than the peer's
// MaxUSPRecordSize, and session expiry. Both ends use the same Session:
// the one that starts it picks the session_id (New), the other accepts it
// from the first Record it receives (Accept).
//
// It is a pure core: it starts no goroutines, reads no clock (every call
// takes now) and does no I/O; a Session is not safe for concurrent use.
// Its caller sends the Records it returns and calls Tick at Wake.
//
// # The rules (TR-369 R-E2E.*, and brickyard's choices where it is silent)
//
//   - session_id > 1, chosen by the originator (R-E2E.3); sequence_id starts
//     at 1 and grows by one per Record (R-E2E.14, R-E2E.15); every Record
//     carries expected_id, the next sequence_id this end expects
//     (R-E2E.17).
//   - A sent Record is kept until a Record from the peer carries a greater
//     expected_id (R-E2E.16); at most Config.MaxBuffered are kept, the
//     oldest dropped past that (a request to retransmit it then fails the
//     session).
//   - Receiving (R-E2E.20): a sequence_id below the expected one is a
//     duplicate, ignored (R-E2E.25); above it, the Record is kept and the
//     missing one is asked for at once with retransmit_id; the expected
//     one is processed with every consecutive one kept, payloads passed on
//     when complete. A Record carrying retransmit_id gets that Record sent
//     again (R-E2E.20.3), at most Config.MaxRetransmitTries times.
//   - A Record whose sequence_id is more than Config.MaxBuffered ahead,
//     or within 10,000 of the uint64 maximum (R-E2E.8/9), fails the
//     session; so do a SAR sequence out of order, a message larger than
//     Config.MaxMessageSize, a retransmission that cannot be given, and
//     payload_security other than PLAINTEXT (TLS payload protection is not
//     implemented: 7102). The caller then starts a new session or, as an
//     Agent, ends this one with a DisconnectRecord 7105 (R-E2E.21,
//     R-E2E.6b).
//   - SAR (PLAINTEXT): a payload that does not fit Config.MaxRecordSize is
//     split; payload_sar_state and payloadrec_sar_state are both NONE for
//     a single Record, BEGIN, INPROCESS…, COMPLETE otherwise. The receiver
//     concatenates the segments in sequence order.
//   - Timers (brickyard's, TR-369 leaves them to the implementation): a
//     gap or an unfinished SAR sequence that makes no progress for
//     Config.RetransmitWait asks again; a sent Record with a payload that
//     is not acknowledged within RetransmitWait is sent again; a Record
//     with a payload received is acknowledged by an empty Record after
//     RetransmitWait/4 when nothing else went out meanwhile (so that the
//     sender can drop it); a duplicate is acknowledged at once. No Record
//     activity for Config.Expiration ends the session (ErrExpired).
//   - Not implemented: payload security (TLS12 inside Records) and the
//     mac_signature integrity of non-payload fields (R-E2E.28–39): a
//     Record's integrity rests on its MTP's TLS, whose certificates carry
//     the Endpoint IDs (R-E2E.28).
package e2e
