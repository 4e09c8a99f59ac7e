// Package connlog generates realistic Zeek conn.log records, deterministically
// from a seed, for tests and benchmarks of the log path (compression ratios,
// end-to-end delivery checks). It is a package of its own so that logsink's
// tests, node tests and cmd/bench can share the same records; it holds no
// production logic.
//
// # Records
//
// Schema is Zeek's default conn.log (Zeek 6/7 without optional packages):
// ts, uid, id.orig_h, id.orig_p, id.resp_h, id.resp_p, proto, service,
// duration, orig_bytes, resp_bytes, conn_state, local_orig, local_resp,
// missed_bytes, history, orig_pkts, orig_ip_bytes, resp_pkts, resp_ip_bytes,
// tunnel_parents; Col* are their indexes.
//
// Gen draws them from a model of a mid-sized site rather than from uniform
// noise, so that compression figures measured on them mean something:
//
//   - ts: records are written in connection-end order, as Zeek does; the
//     end clock advances by exponential gaps (mean 400 µs, about 2500
//     connections per second) and ts is the start, end minus duration, so
//     ts is monotonic with jitter (a long connection shows up with an old
//     ts). Times have microsecond precision, as Zeek's packet timestamps.
//   - uid: "C" followed by the base62 of a 64-bit and a 32-bit word,
//     unpadded, exactly Zeek's UID::Base62 for its 96-bit uids (15 to 18
//     characters). The 96 bits are not random but a keyed permutation of
//     the record id (see below), which makes them indistinguishable from
//     random for a compressor.
//   - hosts: 3000 internal IPv4 hosts in 10.0.0.0/8 and 200 internal IPv6
//     hosts (6% of outbound connections), picked with a Zipf skew (a few
//     busy hosts, a long tail); responders are internal servers (resolvers,
//     domain controllers, file servers) or one of 18800 external IPv4 and
//     1200 external IPv6 addresses, also Zipf-skewed; 8% of TCP connections
//     are inbound (mostly scans of random internal hosts, some to the DMZ).
//   - services: a skewed mix of ssl/443, dns/53, http/80, quic/443 (udp),
//     ntp, ssh, smtp, smb, rdp, krb, ldap, dce_rpc, dhcp, mdns, icmp and
//     unknown high ports; orig_p is an ephemeral port (32768-60999).
//   - state: conn_state and history drawn per protocol (SF, S0, REJ,
//     RSTO, RSTR, SH, S1, OTH, ...); service, duration and byte counts are
//     unset ("-") where Zeek leaves them unset (rejected or unanswered
//     connections).
//   - sizes: duration, orig_bytes and resp_bytes are log-normal with
//     per-service medians and spreads; packet counts and IP bytes follow
//     from them with per-connection noise (segment sizes, pure ACKs,
//     retransmissions); missed_bytes is 0 but for 0.5% of the TCP
//     connections with large responses; tunnel_parents is unset but for
//     0.3% of connections.
//
// # Cost
//
// cmd/bench generates a record for each one its worker writes and counts
// the generator in the worker's CPU, so Next is cheap: New draws a pool of
// 32768 connections from the model above (about 30 ms), and Next takes
// them in runs of 64, the pool's blocks in an order shuffled on every pass
// (no connection twice in a pass, so a 400-record batch is as varied as
// fresh draws: TestPoolCompression), and draws per record only the end
// clock, the ephemeral port, the uid and the rare tunnel parent. Its
// randomness is a PCG called directly, normals from a quantile table,
// exponentials by a polynomial (rng.go). About 1200 instructions per
// record, against 3000 drawing every record from the model.
//
// # Record ids
//
// Next takes a record id and encodes it in the uid: the 96 bits are a
// 4-round Feistel permutation (fixed key) of the id (64 bits) and a 32-bit
// check derived from it. RecordID inverts this, so a test that generated
// records with distinct ids can check, from the written log alone, that
// every record arrived exactly once. The uid stays realistic: same length
// distribution and alphabet as Zeek's, no visible structure.
//
// # Threading
//
// A Gen is not safe for concurrent use; use one per goroutine (with
// different seeds, or the same seed for the same records).
package connlog
