// Package mqtt is the MQTT binding of TR-369 (USP §5.4): agents dial a
// broker, each on its own connection, and a controller listens on one
// broker connection for all of them.
//
// # Versions and clients
//
// Agents speak MQTT 5 (the default) or 3.1.1 through this package's own
// client (client.go, packet5.go, packet311.go), which owns no goroutine
// (below). The controller's Listener uses paho.golang for MQTT 5 and the
// package's 3.1.1 link (link311.go): one broker connection serves every
// agent, so its goroutines do not count.
//
// # Topics
//
// "{eid}" in a configured topic is the endpoint ID of the endpoint that
// subscribes to it: the agent's own topic defaults to "usp/agent/{eid}",
// the controller's to "usp/controller/{eid}" (expanded with the
// controller's ID on both sides).
//
//   - An agent subscribes to its own topic: MQTT 5 exactly (or the CONNACK's
//     Response Information, plus every "subscribe-topic" user property);
//     3.1.1 to "<own>/#", so that the reply-to suffix below still reaches it.
//     It then publishes its mqtt_connect Record to the controller topic.
//   - Every PUBLISH names the sender's own topic for replies: MQTT 5 in the
//     Response Topic property (with Content Type "usp.msg"); 3.1.1 by
//     appending "/reply-to=<own topic, '/' written %2F>" to the topic name.
//   - An agent answers to the reply topic of the last Record it received
//     and sends everything else (notifications, the connect Record) to the
//     configured controller topic; a request without a reply topic (usp-js
//     speaks 3.1.1 without one) is answered on the controller topic too.
//   - The controller subscribes to "<controller topic>/#", which also
//     matches the topic itself, so it hears agents of both versions. It
//     answers an agent on the reply topic of that agent's last Record, else
//     the subscribed_topic of its mqtt_connect Record, else the agent topic
//     pattern expanded with the agent's ID.
//   - A reply topic that is not a valid topic name (empty, a wildcard, NUL,
//     not UTF-8) is ignored: publishing to it would make the broker drop
//     the connection.
//
// # Sessions
//
// The controller side demultiplexes by the Record's from_id (decoded with
// proto; the Msg inside is not read): one Conn per agent, created at the
// agent's first Record and handed out by Accept. A Record that is not a
// protobuf Record, has no from_id, or is addressed to another endpoint is
// dropped and counted (Listener.Stats, Config.Logf). An mqtt_connect Record
// from an agent that has a Conn starts a new session: the old Conn ends with
// ErrBroken (a resumed Conn nothing went through yet takes the Record
// instead: After a broker outage, below). A disconnect Record is delivered
// and then ends the Conn.
//
// When the broker connection ends, the agent's Conn, or the Listener and
// all of its Conns, end with an error wrapping mtp.ErrBroken; reconnecting
// (with backoff) is the caller's job. A Send, Dial or NewListener waiting
// for the broker's acknowledgement of a PUBLISH or SUBSCRIBE returns as soon
// as the connection is known to be dead, in both versions. (paho.golang
// v0.23.0 alone forgets such a waiter when the connection drops and answers
// it only at its PacketTimeout, 10 s; this package bounds every such wait
// by the end of the connection as well.)
//
// # After a broker outage
//
// The controller learns of an agent from its Records, and a reconnecting
// agent publishes its mqtt_connect Record once: if the controller has not
// subscribed again by then, the broker drops it (nobody is subscribed), and
// an idle agent sends nothing more. A persistent controller session would
// not keep it: a broker restarted without persistence (mosquitto's
// "persistence false", the embedded broker) has forgotten the session, and
// the embedded broker queues nothing for an offline client at QoS 0. So the
// controller's knowledge of its agents outlives its broker connection
// instead, in a Handover the caller owns and gives to each Listener it
// makes for one controller (Config.Handover; without one, nothing is
// carried over); USP lets a controller send to an agent's topic at any
// time:
//
//   - A Listener whose broker connection ends other than by Close keeps the
//     agents it had a live session with at that moment, with their
//     addresses. A Conn closed afterwards (cleanup) still counts; one the
//     controller closed before, or that a disconnect Record ended, does not.
//   - The next Listener made with the same Handover for the same broker
//     address, controller ID and controller topic takes them over once it has
//     subscribed. Its Accept hands out a resumed Conn for each of them that
//     has no session yet, after the sessions that agents' Records opened. A
//     resumed Conn sends where the old one did (reply topic, mqtt_connect
//     topic, AgentTopic); Stats counts it in Sessions and Resumed.
//   - The agent's mqtt_connect Record, when it comes, is delivered on the
//     resumed Conn if nothing has gone through that Conn yet: nothing was
//     lost. Otherwise it starts a new session as usual, and the resumed Conn
//     ends with ErrBroken: what was sent on it may have gone nowhere.
//   - Agents not resumed yet when the new Listener's connection ends too pass
//     on to the one after it. Closing a Listener while its broker connection
//     is up forgets its agents.
//
// An agent that reconnects before the controller has subscribed again is
// thus not lost, whatever the length of the outage. A resumed Conn to an
// agent that has not reconnected yet sends into the void (the broker
// accepts and drops the Records), like any Send to an agent that is away.
// A Listener whose connection ended and that no later Listener replaces is
// kept (with its table) as long as its Handover.
//
// # Queues and goroutines
//
// Every queue is bounded.
//
// An agent's connection owns no goroutine. Its Recv reads the socket
// itself (one reader at a time: the session's reader); its Send writes to
// the socket under a lock, from the caller's goroutine; one keeper
// goroutine per Dialer, running while the Dialer has live connections,
// sends PINGREQ to those quiet for their keep-alive and ends those whose
// broker was silent for 1.5 of them. So an agent costs its socket, a
// 1 KiB read buffer and the state of its session, and its session's
// reader is the only goroutine the MQTT agent adds (docs/scale.md).
// Received Records wait in the broker, not in the agent: a QoS 1 PUBLISH
// is acknowledged when Recv hands it out, and a broker sends at most the
// agent's Receive Maximum (QueueLen) unacknowledged, so a slow agent is
// back-pressure, never loss; at QoS 0 the broker decides (mosquitto queues,
// then drops for a client that does not read). Send returns once the
// PUBLISH is written: at QoS 1 it does not wait for the PUBACK (the reader
// sees it); when the broker's Receive Maximum of unacknowledged PUBLISHes
// is reached, the next ones wait in a queue of 1,024 that each PUBACK
// releases (a broker that acknowledges nothing for that long ends the
// session). A Send never waits on the reader, nor the reader on a Send.
// Close says DISCONNECT, half-closes the socket and reads what is left
// (or lets the reader do it) before closing, so that the last PUBLISHes
// are not lost to a TCP reset.
//
// The controller's side: received Records wait in a per-Conn queue of
// Config.QueueLen; when it is full the Record is dropped and counted, so
// the one broker reader never blocks: acknowledgements keep flowing and
// one slow Conn never stalls the others. Accept's backlog is bounded the
// same way; the agents waiting to be resumed, by the agents an earlier
// Listener had. The Listener's broker connection owns its goroutines:
// paho's three (reader, router, pinger) for MQTT 5, a reader and a writer
// for 3.1.1; NewListener starts them, Listener.Close stops them and waits.
// The controller's per-agent Conns own no goroutine. At QoS 1 (the
// default) a controller's Send returns once the broker acknowledged the
// PUBLISH; at QoS 0 once it was handed to the connection.
package mqtt
