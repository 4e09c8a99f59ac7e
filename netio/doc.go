// Package netio carries weir frames over TCP on gnet event loops: it
// listens and dials, runs the handshake of docs/PROTOCOL.md §6, scans
// frames straight out of gnet's input buffer, coalesces outbound frames
// into one write per loop turn, applies per-peer backpressure, and keeps
// peers alive with ping/pong and redials. It does not interpret topics or
// bodies: complete frames go to a Handler (the node), which routes them.
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
//     no allocation per frame.
//   - Outbound: Peer.Send appends the frame to the peer's outbox under a
//     mutex held only for the append. The first frame into an empty outbox
//     wakes the peer's loop (gnet Conn.Wake); the loop swaps the whole
//     buffer out and writes it with one syscall. So a burst of N frames
//     costs one wake and one write, whichever goroutine produced it.
//   - Backpressure: an outbox is bounded in frames and bytes
//     (Options.QueueFrames, QueueBytes; defaults 8192 frames as in Zeek's
//     cluster, 64 MiB). While the kernel has not taken more than
//     SocketHighWater bytes already written, the loop leaves the outbox
//     alone, so a stalled reader fills its own outbox and then its Policy
//     applies: DropOldest (default), DropNewest or Disconnect. Drops and
//     disconnects are counted per peer (Peer.Stats). Other peers are not
//     affected: no producer ever waits on a socket.
//
// # Handshake, duplicates, liveness
//
// The dialer sends hello, the listener answers welcome or error; the pure
// functions acceptHello, acceptWelcome and keepNew make every decision and
// are tested without sockets. A handshake not done within
// HandshakeTimeout (10s) is closed. Between two node ids there is one
// connection: the one dialed by the smaller id wins, on both sides
// (§6.2). Established peers are pinged when idle (PingInterval, 2s) and
// declared lost when nothing arrived for PeerTimeout (10s). Dial targets
// are redialed with exponential backoff from RetryInitial (1s, as Zeek)
// to RetryMax, with ±20% jitter, until Undial.
//
// # Faults
//
// Garbage, a frame over the size limit, an unknown kind, a wrong version,
// a handshake frame out of place: the connection is closed with an error
// frame naming the reason, a log line and a counter (Stats.Failures by
// code). Nothing a peer sends can panic the engine; other connections keep
// flowing.
package netio
