// Package netio carries weir frames over TCP on gnet event loops: it
// listens and dials, runs the handshake of docs/PROTOCOL.md §6 (with the
// shared-secret authentication of §6.3), scans frames straight out of
// gnet's input buffer, coalesces outbound frames into one write per loop
// turn, applies per-peer backpressure, and keeps peers alive with
// ping/pong and redials. Peers that need TLS use a second transport on
// crypto/tls (gnet has none) that runs the same code. It does not
// interpret topics or bodies: complete frames go to a Handler (the node),
// which routes them.
//
// # Engines and ownership
//
// An Engine runs two gnet engines: one listening (gnet.Run) and one dialing
// (gnet's Client). Every connection belongs to one event loop for its whole
// life; its state (connState) is touched only there, except for the fields
// that are atomics. The Handler's methods run on those loops and must not
// block.
//
// # The data path
//
//   - Inbound: OnTraffic peeks at everything gnet buffered, frame.Scan finds
//     each complete frame (reading only header and topic), and the Handler
//     gets a view of it; consumed bytes are discarded at the end. No copy,
//     no allocation per frame. A frame left partial by one read is completed
//     on its own at the next (a copy of that frame only): gnet would
//     otherwise copy it and the whole next read into one buffer.
//   - Relaying: Peer.Forward, called by a handler for a frame it received,
//     writes the frame without copying it when both connections belong to
//     the same event loop and the destination's outbox is idle: the loop
//     collects views of the frames (adjacent frames as one run) and writes
//     them with one writev per destination before it discards the read. A
//     destination with queued frames, or past its high-water mark, gets a
//     copy in its outbox as with Send, flushed by the same loop without a
//     wake-up. Across loops Forward is Send.
//   - Outbound: Peer.Send appends the frame to the peer's outbox under a
//     mutex held only for the append. The first frame into an empty outbox
//     wakes the peer's loop (gnet Conn.Wake); the loop swaps the whole
//     buffer out and writes it with one syscall. So a burst of N frames
//     costs one wake and one write, whichever goroutine produced it.
//     Peer.SendEncoded lets the producer encode a frame of known maximum
//     size straight into the outbox instead (no buffer, no copy); when the
//     outbox lacks room it queues nothing, and the producer falls back to
//     Send, where the policy applies.
//   - Backpressure: an outbox is bounded in frames and bytes
//     (Options.QueueFrames, QueueBytes; defaults 8192 frames as in Zeek's
//     cluster, 64 MiB). While the kernel has not taken more than
//     SocketHighWater bytes already written, the loop leaves the outbox
//     alone, so a stalled reader fills its own outbox and then its Policy
//     applies: DropOldest (default), DropNewest or Disconnect. Drops and
//     disconnects are counted per peer (Peer.Stats). Other peers are not
//     affected: no producer ever waits on a socket. Peer.TrySend never
//     applies the policy; Options.OnEvict hears of the frames of chosen
//     kinds that DropOldest evicts (the node fails such a store request
//     at once).
//
// # The TLS transport
//
// With Options.TLS the listener serves mutual TLS 1.3 only, and Dial uses
// TLS (per target: WithTLS). Both sides present a certificate and verify
// the other's against TLSConfig.CAs; TLSConfig.PeerNames pins the names
// (DNS SAN, else CN) a peer's certificate may carry. Peers are identified
// by node names, not addresses, so the dialed host name is not checked.
//
// A TLS connection has two goroutines, owned by the engine (Close waits
// for them). Its reader is the connection's owner, the counterpart of its
// gnet loop: it runs the TLS handshake, then reads into its own buffer and
// hands it to the same code as the loop (Engine.consume: frame scanning,
// the handshake functions, Handler.Frame, pings); Handler methods run on
// it. Its writer flushes the outbox on each wake with the same
// connState.flush; a write blocks while the peer does not read, so the
// outbox fills and the policy applies, as on gnet. Closing hands the last
// frames (bye or error) to the writer, which writes them within 2s and
// closes the socket. The wire interface (gnetWire, tlsWire) is the only
// place the two transports differ.
//
// # Handshake, duplicates, liveness
//
// The dialer sends hello, the listener answers welcome or error; the pure
// functions acceptHello, acceptWelcome, keepNew and (for the shared
// secret) helloAuth, welcomeAuthCheck and authFrameCheck make every
// decision and are tested without sockets. With Options.Secret both
// sides prove knowledge of it by HMAC-SHA256 over both nonces, both ids
// and both roles; a listener registers the dialer, and accepts any frame
// from it, only once its proof checks (anything else first is
// error(auth)). The check runs once per connection, never per frame. A
// handshake not done within HandshakeTimeout (10s) is closed. Between two node ids there is one
// connection: the one dialed by the smaller id wins, on both sides
// (§6.2). Established peers are pinged when idle (PingInterval, 2s) and
// declared lost when nothing arrived for PeerTimeout (10s). Dial targets
// are redialed with exponential backoff from RetryInitial (1s, as Zeek)
// to RetryMax, with ±20% jitter, until Undial.
//
// # Faults and limits
//
// Garbage, an unknown kind, a wrong version, a handshake frame out of
// place, a wrong or missing proof or certificate: the connection is closed
// with an error frame naming the reason (on TLS before its handshake
// completed: a TLS alert), a log line and a counter (Stats.Failures by
// code; refusals this node receives in Stats.Refused). Nothing a peer
// sends can panic the engine; other connections keep flowing.
//
// Limits protect a node, each answered with error(limit) and counted in
// Stats.Limits: MaxPeers (4096 connections; inbound ones beyond it are
// refused), MaxHandshakes (256 inbound handshakes at once; a new one
// evicts the oldest, so stalled connections cannot keep a good peer out),
// MaxHandshakeFrame (4 MiB: what a stranger can make the node buffer),
// MaxSubscriptions (65536 prefixes in a handshake filter; the node applies
// it to subscribe frames with Peer.CloseLimit), Limits.MaxFrame and
// MaxTopic (checked on the header, before the frame is buffered),
// QueueFrames and QueueBytes (the outbox). Warnings about failed
// handshakes are rate-limited (20/s, the rest summarized) so a flood of
// garbage does not flood the log.
package netio
