// Package logsink ships log records from workers to logger nodes in
// compressed batches, and writes them on the logger side.
//
// This file describes the batching, payload, compression, delivery and
// spool half (files batch*, payload*, codec*, ship*, spool*); the writers,
// rotation and repair are described with their types (writer*, rotate*,
// repair*).
//
// # Batches
//
// A Batcher per stream (one Schema: a path and typed columns) takes
// records. Append checks a record against the schema (column count, value
// and element types; a mismatch is refused with ErrRecordMismatch and
// nothing is added) and appends each value to its column's buffers in a
// shard: integers and times as int64, strings and addresses as bytes, an
// unset value as its record number. A batch closes at MaxRecords records
// (default 400, as Zeek), MaxBytes (default 256 KiB) of the records' row
// form (frame.AppendValue of each value, Batch.RowBytes) or MaxDelay after
// its first record (default 1 s, checked by Tick), whichever comes first.
//
// The column buffers never go on the wire. Codecs.CompressBatch, on the
// shipping goroutine, encodes them as the columnar payload below (time
// scales, deltas, dictionaries) and compresses that; Batcher.Release then
// hands the buffers back for later batches. Append stays an uncontended
// lock and a pass over the values, and the shipping side has no row form
// to take apart (the first version appended the row form and transposed
// it there: twice the instructions, see the figures below).
//
// The batch goes on the wire as a frame.LogBatch: Origin (the worker's node
// id), Stream, Codec, Records, Seq (per stream, from 1), RawLen (payload
// size before compression) and the compressed Payload (Batch.Wire).
//
// # Payload
//
// A payload (format version 1) is self-describing, so that a logger needs
// no state to write it, and columnar, so that each column's values are
// contiguous and encoded for their type: the layout compressors do best
// on. All integers are little-endian; uvarint and str as in
// docs/PROTOCOL.md (§1, §5), uvarints minimal. The header:
//
//	| field     | size          | meaning                                            |
//	|-----------|---------------|----------------------------------------------------|
//	| version   | u8            | 1                                                  |
//	| records   | uvarint       | n, records in the batch                            |
//	| path      | str <= 255    | the stream's path, e.g. "conn"                     |
//	| columns   | uvarint       | c, 1 to 4096                                       |
//	| name[i]   | str <= 255    | column i's name  } c times: the schema,            |
//	| type[i]   | u8            | its type tag     } which must pass Schema.Validate |
//	| elem[i]   | u8            | element type of a set/vector column, else 0        |
//	| block[i]  | uvarint + len | column i's block, c times, in order; nothing after |
//
// A column block holds the column's n values:
//
//	| field    | size      | meaning                                                    |
//	|----------|-----------|------------------------------------------------------------|
//	| enc      | u8        | bits 0-6: 0 plain, 1 dictionary; bit 7: presence follows   |
//	| presence | ceil(n/8) | bit i (LSB first) set if record i has a value, bits past n |
//	|          |           | zero; without it all n have one. m = values present        |
//	| body     | the rest  | the m present values, by type (unset values take no room)  |
//
// Plain bodies, by column type:
//
//	| type         | body                                                              |
//	|--------------|-------------------------------------------------------------------|
//	| bool         | ceil(m/8) bytes, bit j (LSB first) value j                        |
//	| count        | m uvarints                                                        |
//	| integer      | m zigzag varints                                                  |
//	| real         | m x u64, IEEE 754 bits                                            |
//	| timestamp    | u8 scale k (0-9), m zigzag varints: v/10^k minus the largest      |
//	|              | earlier v/10^k (0 for the first); wrapping 64-bit arithmetic       |
//	| timespan     | u8 scale k (0-9), m zigzag varints v/10^k                         |
//	| string, enum | string list of m                                                  |
//	| address      | address list of m                                                 |
//	| subnet       | m x 17 bytes: the 16-byte address and prefix length of §4         |
//	| port         | m x u16 numbers, then m x u8 protocols (0-3)                      |
//	| set, vector  | m value encodings (docs/PROTOCOL.md §4, tag included)             |
//
// A dictionary body (string, enum and address columns only):
//
//	| field   | size        | meaning                                           |
//	|---------|-------------|---------------------------------------------------|
//	| d       | uvarint     | entries, 1 to 65536                               |
//	| entries | list of d   | a string list or an address list                  |
//	| index   | m x u8/u16  | entry of each value: u8 if d <= 256, else u16     |
//
// A string list of k is k uvarint lengths, then the k strings' bytes back to
// back. An address list of k is a family byte, 4 (k x 4 bytes, IPv4, read as
// ::ffff:a.b.c.d), 16 (k x 16 bytes) or 0 (mixed: a ceil(k/8) bitmap, bit
// set for a 16-byte address, then each address in 4 or 16 bytes).
//
// The encoder's choices: a timestamp or timespan column's scale is the
// largest k for which every value is a multiple of 10^k ns (6 for Zeek's
// microsecond times); timestamps are deltas from the running maximum, as
// log times are monotonic with jitter (Zeek logs a connection at its end
// with its start as ts); a string, enum or address column is
// dictionary-encoded when it has at most m/2 distinct values, entries
// ordered by falling frequency so that the index bytes are skewed.
//
// ParsePayload validates the whole payload before anything is written:
// header, schema, every block, every value (minimal varints, sections used
// exactly, indexes in range, canonical subnets and containers of the
// column's element type, protocols 0-3); it never panics and its work and
// memory are bounded by the payload's size (every record costs at least a
// bit of every block). Payload.Each then hands out each record as
// frame.Views, scratch-built per record, dictionary entries made once.
// The writers' WritePayload, the logger's path, does not go through
// views: it formats each column's values straight into text, then
// stitches the lines (payload_text.go), byte-identical to WriteViews of
// each record. Payload.Format does both ahead of the write, so that a
// logger formats and stitches on several goroutines and its one writing
// goroutine only copies the lines to the file. Payload.Parse parses into
// a Payload reused from batch to batch, without allocating.
//
// # Compression
//
// Codecs compresses with S2 or zstd (SpeedFastest), from
// github.com/klauspost/compress; the zstd encoders and decoders are created
// once and shared. zstd payloads are a run of zstd frames, a new frame at
// the first column boundary past 4 KiB: zstd codes literals with one
// Huffman table per block, columns have very different byte statistics, and
// a table per group of columns saves 8% on conn.log (a zstd decoder reads
// concatenated frames as one stream, so decoding is plain DecodeAll).
// Decompression is bounded by the batch's RawLen and by MaxRawLen (64 MiB):
// a payload that would decode to more is refused before more than RawLen
// bytes are produced (zstd: WithDecodeAllCapLimit with cap(dst) = RawLen;
// S2: the length in its header must equal RawLen).
//
// Figures for one default batch of 400 realistic conn.log records
// (internal/connlog: Zeek's 21 default columns, random 96-bit uids, a
// skewed host and service mix, log-normal durations and sizes; see its
// doc), go1.26, klauspost/compress v1.20.1, 2 vCPU AMD EPYC VM, 2026-11-26,
// from
//
//	go test -run '^$' -bench 'BatcherAppend|CompressBatch|DecompressLogBatch|ParsePayload|ConnWrite|ConnPipeline' -benchtime 2000x -count 3 ./logsink/
//
// Rows are the row form (frame.AppendValue of each value, 165 B per
// record), TSV is Zeek's TSV text of the records (127 B per record); the
// ratios are theirs over the wire bytes, and exact. CPU is process CPU
// time per record (getrusage), the median of the three samples: the VM
// was shared with other builds (load average 3 to 8 on 2 vCPUs), which
// distorts wall time far more than CPU time, so wall figures are left
// out; even so the CPU figures vary by 10 to 20% from run to run. Compress
// includes encoding the column blocks, which the "none" row is alone.
//
//	| codec           | wire B/rec | rows/wire | TSV/wire | compress ns/rec | decompress ns/rec |
//	|-----------------|------------|-----------|----------|-----------------|-------------------|
//	| none            | 54.8       | 3.02      | 2.33     | 192             | 1                 |
//	| s2              | 50.4       | 3.28      | 2.53     | 218             | 5                 |
//	| zstd fastest    | 42.7       | 3.87      | 2.98     | 587             | 118               |
//	| zstd default    | 42.3       | 3.91      | 3.01     | 755             | 125               |
//	| s2, rows        | 78.3       | 2.11      | 1.63     | 201             |                   |
//	| zstd, rows      | 56.4       | 2.93      | 2.26     | 1031            |                   |
//
// The last two rows are the first format (the row form compressed as it
// is), for comparison: the columnar payload is 35% (s2) and 24% (zstd)
// smaller on the wire. Append costs 230 ns per record. On the logger, Payload.Parse plus WritePayload to TSV
// costs 504 ns per record (JSON 612), against 641 for ParsePayload plus
// one Each and 876 for Each plus WriteViews, the view path. Per side
// (BenchmarkConnPipeline): the worker's Append, CompressBatch and Release
// cost 474 ns per record with s2 (1172 with generating the record, 698),
// 1246 with zstd; the logger's decompression, Parse and WritePayload 574
// with s2, 792 with zstd.
//
// The same paths counted in instructions per record (cachegrind,
// GOMAXPROCS=1, the difference of two benchmark lengths; noise-free, so
// the measure to compare versions by on a shared machine), before this
// layout of Append and the text path and after: Append 2718 and 1877;
// encoding the payload 5296 and 2138; with s2 5517 and 2385; with zstd
// 9409 and 5761; the logger's parse, walk and TSV formatting about 13200
// (ParsePayload 7960 and Each plus WriteViews 10270, Each alone 5000)
// and 5758 (Parse and WritePayload).
//
// BenchmarkConnPipeline per record in instructions (the same method,
// with GOGC=off so that the collector's work on the setup's garbage does
// not blur the difference; 2026-11-26), before and after a generator
// drawing from a pool of connections (internal/connlog), time scales
// divided by constants, dictionary hashing without a loop per byte and a
// probe loop per key kind; counts and times formatted in place, bools and
// addresses by loops of their own, lines stitched without bounds checks:
// the worker with s2 (generating, Append, CompressBatch) 7423 and 5445,
// of which the generator about 3000 and 1200 and Append 1520 (of that,
// frame.Value's accessors copy the 80-byte value on each call: some 20
// instructions per value); the logger with s2 (decompress, Parse,
// WritePayload) 5854 and 5406.
//
// The hoped-for 5x over rows is not reached on these records, and no
// lossless coding of them would reach it. Per column, the block alone
// under zstd (go test -run TestConnLogCompression -v ./logsink/): uid 13.6
// B/rec (96 random bits: 12 bytes of entropy, 18.7 as text), ts 3.2,
// duration 3.2, id.orig_h 3.1, id.resp_h 3.7, id.orig_p 2.7, the four byte
// counts 7.2, the two packet counts 2.2, the other 11 columns 4.6. Times
// at microsecond precision, log-normal sizes and ephemeral ports are
// close to incompressible; even without the uid column the ratio would be
// (165-18.7)/(43.3-13.6) = 4.9. Records repetitive enough to reach 5x
// would not be honest conn.log. General-purpose compressors at their
// strongest agree (2026-11-27; the TSV file of weir-bench logs --keep,
// cut into batches with split -l and each compressed alone): per
// 400-record batch xz -9e takes 47.2 B/rec (3.50x the rows), bzip2 -9
// 46.0 (3.59x), zstd -19 49.1 (3.37x); per 1600 xz -9e 44.1 (3.75x), per
// 10000 41.5 (3.98x). Only past the generator's pool of 32768 connections
// (80000 records: 30.7 B/rec, 5.38x; the whole 1M-record file 24.8) does
// xz find repeats, which are the generator's, not a site's. Not done, and
// worth about 5%: coding the IP byte counts as differences from the
// payload byte counts (a cross-column predictor).
//
// DefaultCodec is S2. Both codecs are lossless, so by the rule "the faster
// at equal loss", S2: past the shared encoding it compresses for about a
// fifteenth of zstd's CPU (26 against 395 ns per record: worker CPU, next
// to packet processing) and decompresses 20 times faster (one logger
// decompresses many workers' batches); zstd sends 15% fewer bytes, which
// matters little on a cluster LAN. zstd's default level buys 1% over its
// fastest for 29% more CPU. The codec is chosen per batch on the wire, so
// a worker on a thin link can use zstd without the logger changing.
//
// # Delivery
//
// Shipper is the worker's delivery state machine, written like etcd raft's:
// no goroutine, no clock, no I/O. Inputs are Add, Ack, Nack, LoggerUp,
// LoggerDown and Tick(now); the caller then takes Ready (Sends to do,
// Dropped batches to log and count), does the work and calls Advance.
// Batches must be encoded (CompressBatch) before Add if they may be
// spooled.
//
//   - A batch goes to a live logger with room in its Window (default 256
//     unacknowledged batches), round-robin by default, or by rendezvous
//     hashing per stream with HRWPick; otherwise it waits in memory.
//   - An unacknowledged batch is sent again after ResendAfter (default 5 s)
//     to the same logger. When its logger goes down it waits FailoverAfter
//     (default 30 s) for it to return, then goes to another live logger.
//   - Unacknowledged batches are held within Budget bytes (default 64 MiB).
//     Past it the oldest go to the Spool if one is configured, else they are
//     dropped and reported in Ready.Dropped, never silently. Spooled
//     batches come back, oldest first, as acks free room.
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
// # Spool
//
// FileSpool is the Spool on disk: a directory of segment files
// ("<id: 16 hex digits>.spool", ids increasing, a segment a quarter of the
// bound, 64 KiB to 64 MiB) and a cursor file. A segment is a run of
// records:
//
//	| field   | size    | meaning                                         |
//	|---------|---------|-------------------------------------------------|
//	| length  | u32     | body length, 20 bytes to 128 MiB                |
//	| crc     | u32     | CRC-32C (Castagnoli) of the body                |
//	| version | u8      | 1   } the body                                  |
//	| stream  | str     |     }                                           |
//	| seq     | u64     |     }                                           |
//	| records | u32     |     }                                           |
//	| codec   | u8      |     }                                           |
//	| raw_len | u32     |     }                                           |
//	| payload | rest    |     } the batch's wire payload, at least 1 byte |
//
// The cursor file is the segment id (u64) and offset (u64) of the next
// record to take and a CRC-32C of those 16 bytes, rewritten in place on
// every Take. On open, each segment is read through and cut at its first
// record whose length, CRC or header is bad (a torn write), records before
// the cursor are skipped, and segments with nothing left are deleted; so
// is a segment once all its records are taken. Put refuses with
// ErrSpoolFull past the bound. Writes are not fsynced one by one (a full
// segment is, when the next starts, and Sync and Close do); see FileSpool.
//
// # Threading
//
// Batcher, Codecs and FileSpool are safe for concurrent use: Batcher shards
// its buffers (one mutex per cache-line-padded shard) and takes sequence
// numbers from one atomic counter; Codecs shares its zstd state and pools
// its encoding scratch (CompressBatch only reads a batch's columns, so one
// batch may even be compressed by several goroutines at once). Shipper,
// Dedupe and a Payload are not: each belongs to one goroutine at a time
// (the worker's, the logger's loop; a logger may parse and Format
// payloads on several goroutines, one Payload each, and write them on
// one).
package logsink
