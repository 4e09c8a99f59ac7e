// Package router maps topics to subscribers by topic prefix, for the publish
// path of a weir node: which local subscribers and which peers want a topic.
//
// # What it owns
//
// A Router[S] holds (prefix, subscriber) pairs, where S is any comparable
// type: a local subscription handle, a peer id. It answers Match(topic): every
// subscriber with at least one prefix of the topic, each once. It knows
// nothing about frames, sockets or what a subscriber is; the node uses one
// router for its local subscribers and one for its peers' filters.
//
// # Semantics (as Broker's)
//
//   - Topics and prefixes are byte strings; a prefix matches every topic that
//     begins with it, byte for byte: "a" matches "alice", "zeek/" matches
//     "zeek/event/x", and the empty prefix matches every topic.
//   - A subscriber with several matching prefixes is reported once. Results
//     are in no particular order.
//   - Subscribe of an existing pair and Unsubscribe of an absent pair are
//     no-ops, and the methods report whether anything changed, so the node
//     tells its peers only about real changes.
//   - Apply applies a batch of changes as one update: a concurrent Match sees
//     all of them or none.
//
// # Threading
//
// Every method is safe for concurrent use. Readers (Match, MatchString, Each,
// Len, Metrics) never take a lock and never wait for a writer: they load the
// current snapshot through an atomic pointer. Writers (Subscribe,
// Unsubscribe, Apply, RemoveSubscriber) are serialized by a mutex, which the
// per-subscriber queries (Prefixes, Count) also take; none of those belongs on
// a per-message path.
//
// # Design
//
// Snapshot. The pairs live in a persistent compressed radix trie (one node per
// branching point or subscribed prefix, edges labelled with byte strings). A
// published trie is never modified. A writer builds the next one by copying
// only the nodes on the paths it changes, O(depth) per change, and publishes
// it with one atomic store; readers holding the old snapshot keep a
// consistent view until they return. Within one Apply, nodes the writer has
// already copied are edited in place, so a 1000-change batch copies the top
// of the trie once, not 1000 times.
//
// Arrays, not objects. The nodes are records in one append-only []uint64,
// their labels in a []byte and their subscribers' ids in a []uint32; a node
// is an index, not a pointer, and none of the three arrays holds a pointer.
// So the collector marks a trie of any size as three objects, and churn
// makes no garbage for it: a copy-on-write write appends records and leaves
// the ones it replaced in the arrays. When an array holds more than twice
// what is live, the writer copies the live trie into other arrays:
// the ones it left at the compaction before, once no reader walks them any
// more (a walk pins its arrays with an atomic count, and a reader that finds
// its snapshot's arrays retired walks the current snapshot instead), else
// new ones. Under steady churn the writer thus alternates between two sets
// of arrays and allocates next to nothing (BenchmarkWrite: a few bytes per
// change, against 362 for the trie of heap nodes this design replaced), so
// the collector, whose cycles cost the readers most of what churn used to
// cost them, rarely runs.
//
// Record layout (words of 8 bytes). Walks are bound by cache misses, so a
// record keeps what a walk reads to descend in its first words and the
// child indices right behind them: a leaf is 40 bytes, a node with up to
// two children 48, with up to 8 children 64:
//
//	| word      | content                                                     |
//	|-----------|-------------------------------------------------------------|
//	| 0         | k8: first label bytes of up to 8 children, sorted (SWAR)    |
//	| 1         | lab: first 8 bytes of the node's label                      |
//	| 2         | the label's offset and length in the label array            |
//	| 3         | children, child capacity, subscriber run capacity           |
//	| 4         | the subscriber run's offset and length in the id array      |
//	| 5-8       | a 256-bit child bitmap, with a child capacity above 8       |
//	| then      | child indices, two per word, ordered by first label byte    |
//
// Subscribers. Each subscriber has a dense id, reused after it leaves; the
// trie holds ids, and each snapshot has a table from id to subscriber, a
// persistent array (a tree of fan-out 64) whose path to an id a writer
// copies only when that subscriber joins or leaves. A subscriber that left
// is thus not referenced by the trie once the snapshots that name it are
// gone (a stale cache entry keeps its copy of a result until its slot is
// refilled). A topic with one subscribed prefix on its path (the common
// case) returns that node's subscribers directly; with several, Match
// deduplicates with a bitset over ids, on the stack up to 4096 subscribers,
// pooled beyond.
//
// Cache. A table of Options.CacheSize atomic pointers, in sets of two
// indexed by a hash of the topic, holds immutable entries {hash, generation,
// topic, subscribers}. (Two slots per set, adjacent in memory: with one, two
// hot topics that hash to the same slot would evict each other on every
// call, and a few percent of such misses cost more than all the hits.)
// Empty slots hold a blank entry of generation 0, which is never current,
// so a lookup tests no nil pointer. A hit is a hash, two or three atomic
// loads and a compare, no lock and no allocation. Each published snapshot
// has a new generation, and an entry is used only if its generation is the
// current one, so a write invalidates the whole cache in O(1) without
// touching it and without stopping readers; each topic is recomputed at its
// next Match. A miss allocates the new entry (one object: a topic of up to
// 32 bytes is copied into the entry itself, and so is a one-subscriber
// result; a longer result is copied into an array of its own).
//
// Hash and compare. The hash is XXH64 of the topic (seed 0), the design
// card's hash for router caches. It is not keyed, so a peer that knows it
// can choose topics that crowd one set; that costs cache misses (the
// bounded trie walk), never a wrong result: the compare is exact. A topic
// of up to 32 bytes is compared as four 8-byte words (words: its first 16
// and last 16 bytes, overlapping unless it has 32; fewer, shorter loads
// below 16 bytes), which cover all of its bytes: the compare on a hit
// loads the same words from the entry's copy of the topic, which is inside
// the entry (no pointer to follow), and compares them and the length;
// longer topics compare bytes (sameBytes). For the common lengths, 8 to 32
// bytes, Match does the lookup inline, with no call but the hash when the
// result has one subscriber and dst has room for it.
//
// XXH64 of a 30-byte topic is about half of a cached hit (some 12 of
// 25 ns on the development VM). A keyed multiply hash in the manner of
// wyhash made hits 2-3 times cheaper in a trial (issue #3), but the design
// card names xxhash for router caches, so the cache keeps it; MatchString's
// address hints and Memo (below) are the hash-free hits.
//
// MatchString also keeps address hints: a second table, one slot per set,
// indexed by the string's address and length instead of a hash of its
// bytes, pointing at the entry that string found last. A publisher that
// passes the same topic string again (a constant, or one built once) skips
// the hash: a hit is a multiply, two atomic loads and the compare. The
// compare against the entry's copy of the topic keeps the hint exact
// whatever string lives at that address now; the table holds addresses as
// numbers, so it keeps no caller's string alive. Topics of 16 to 32 bytes
// compare as four words, inline, others eight bytes at a time in sameBytes
// rather than through a runtime call; so does a Memo's.
//
// A Memo is the per-stream equivalent: one caller's (one connection's)
// last topic and result, checked by a compare and the generation, with no
// hash and no shared memory written (MatchMemo). The node keeps one per
// peer for the frames it receives, which mostly repeat a topic.
//
// Costs: Match on a cache hit, O(len(topic)); on a miss, O(depth) node visits
// plus the result. A write, O(depth) record copies plus O(subscribers of the
// changed prefix), and a share of the compactions, O(live trie) after as
// much garbage. Memory: the live trie is about 80 bytes per subscription,
// but each of the two sets of arrays has room for two and a half times
// that (garbage and growth). With the subscriber index, a router built in
// one batch holds 200-260 bytes per subscription at 100k subscriptions
// (BenchmarkMemory, after a collection; no spare set yet), plus the cache's
// entries, a little less than the trie of heap nodes this design replaced.
// Once it churns, the writer keeps a spare set, and the heap in use while a
// router of 100k subscriptions churns is 420-690 bytes per subscription
// (BenchmarkMemoryChurn), no more than the old trie's, whose garbage waited
// for the collector.
package router
