// Package logsink ships log records from workers to logger nodes in
// compressed batches, and writes them on the logger side.
//
// This file describes the batching, compression and delivery half (files
// batch*, codec*, ship*); the writers, rotation and repair are described
// with their types (writer*, rotate*, repair*).
//
// # Batches
//
// A Batcher per stream encodes records into batches. A batch closes at
// MaxRecords records (default 400, as Zeek), MaxBytes bytes (default
// 256 KiB) or MaxDelay after its first record (default 1 s, checked by
// Tick), whichever comes first. Its payload, before compression, is the
// concatenation of its records:
//
//	| field    | size          | meaning                                   |
//	|----------|---------------|-------------------------------------------|
//	| columns  | uvarint       | number of values that follow (<= 4096)    |
//	| value[i] | frame.Value   | frame.AppendValue encoding, columns times |
//	| ...      |               | next record, up to the end of the payload |
//
// The batch goes on the wire as a frame.LogBatch: Origin (the worker's node
// id), Stream, Codec, Records, Seq (per stream, from 1), RawLen (payload size
// before compression) and the compressed Payload. DecodeRecords validates
// and walks a payload; it never panics and its work is bounded by the
// payload's size.
//
// # Compression
//
// Codecs compresses with S2 or zstd (SpeedFastest), from
// github.com/klauspost/compress; the zstd encoders and decoders are created
// once and shared. Decompression is bounded by the batch's RawLen and by
// MaxRawLen (64 MiB): a payload that would decode to more is refused before
// more than RawLen bytes are produced (zstd: WithDecodeAllCapLimit with
// cap(dst) = RawLen; S2: the length in its header must equal RawLen).
//
// Figures for one default batch (400 conn.log-like records: ts, uid,
// addresses, ports, proto, service, duration, bytes, state, history; 48 KiB
// raw), go1.26, klauspost/compress v1.20.1, 2-core shared VM (AMD EPYC),
// 2026-11-26, from
//
//	go test -run '^$' -bench Codec -benchtime 1000x -count 3 ./logsink/
//
// The VM's load average was about 17 during the run (other builds and
// fuzzers), so wall-clock MB/s measure mostly the wait for a CPU. The
// benchmark also reports cpu-MB/s, raw bytes per second of process CPU time
// (getrusage), which the load disturbs much less; medians of 3 below, wall
// figures the best of 3. The ratios are exact.
//
//	| codec | ratio | compress cpu-MB/s (wall) | decompress cpu-MB/s (wall) |
//	|-------|-------|--------------------------|----------------------------|
//	| s2    | 1.84  | 471 (167)                | 1425 (943)                 |
//	| zstd  | 2.57  | 68 (22)                  | 439 (205)                  |
//
// DefaultCodec is S2: both codecs are lossless, and S2 is about 7 times
// faster to compress (worker CPU, next to packet processing) and 3 times
// faster to decompress (one logger decompresses many workers' batches).
// zstd's better ratio (28% fewer bytes) matters little on a cluster LAN.
// The codec is chosen per batch on the wire, so a worker on a thin link can
// use zstd without the logger changing.
//
// # Delivery
//
// Shipper is the worker's delivery state machine, written like etcd raft's:
// no goroutine, no clock, no I/O. Inputs are Add, Ack, Nack, LoggerUp,
// LoggerDown and Tick(now); the caller then takes Ready (Sends to do,
// Dropped batches to log and count), does the work and calls Advance.
//
//   - A batch goes to a live logger, round-robin by default, or by
//     rendezvous hashing per stream with HRWPick.
//   - An unacknowledged batch is sent again after ResendAfter (default 5 s)
//     to the same logger; when its logger goes down, at once to another live
//     logger. With no logger live, batches wait.
//   - Unacknowledged batches are held within Budget bytes (default 64 MiB).
//     Past it the oldest go to the Spool if one is configured, else they are
//     dropped and reported in Ready.Dropped, never silently.
//   - A Nack drops the batch (reported): a batch a logger rejects as corrupt
//     would be rejected forever.
//   - Acks for unknown or already acknowledged batches are ignored.
//
// Delivery is at least once. On the logger, Dedupe remembers per (origin,
// stream) a window of recent sequence numbers (anti-replay style, default
// 1024) so that a retransmitted batch is acknowledged again but written once.
// A batch older than the window is reported TooOld and acknowledged without
// writing.
//
// # Threading
//
// Batcher and Codecs are safe for concurrent use: Batcher shards its buffers
// (one mutex per cache-line-padded shard) and takes sequence numbers from
// one atomic counter; Codecs shares its zstd state. Shipper and Dedupe are
// not: each belongs to one goroutine (the worker's, the logger's loop).
package logsink
