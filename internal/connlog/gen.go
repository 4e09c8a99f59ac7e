package connlog

import (
	"math"
	"net/netip"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/logsink"
)

// Column indexes of Schema.
const (
	ColTS = iota
	ColUID
	ColOrigH
	ColOrigP
	ColRespH
	ColRespP
	ColProto
	ColService
	ColDuration
	ColOrigBytes
	ColRespBytes
	ColConnState
	ColLocalOrig
	ColLocalResp
	ColMissedBytes
	ColHistory
	ColOrigPkts
	ColOrigIPBytes
	ColRespPkts
	ColRespIPBytes
	ColTunnelParents

	NumColumns
)

// Schema returns Zeek's default conn.log schema (path "conn"); a fresh copy
// on every call.
func Schema() logsink.Schema {
	c := func(name string, t frame.Type) logsink.Column { return logsink.Column{Name: name, Type: t} }
	return logsink.Schema{Path: "conn", Columns: []logsink.Column{
		c("ts", frame.TypeTimestamp),
		c("uid", frame.TypeString),
		c("id.orig_h", frame.TypeAddress),
		c("id.orig_p", frame.TypePort),
		c("id.resp_h", frame.TypeAddress),
		c("id.resp_p", frame.TypePort),
		c("proto", frame.TypeEnum),
		c("service", frame.TypeString),
		c("duration", frame.TypeTimespan),
		c("orig_bytes", frame.TypeCount),
		c("resp_bytes", frame.TypeCount),
		c("conn_state", frame.TypeString),
		c("local_orig", frame.TypeBool),
		c("local_resp", frame.TypeBool),
		c("missed_bytes", frame.TypeCount),
		c("history", frame.TypeString),
		c("orig_pkts", frame.TypeCount),
		c("orig_ip_bytes", frame.TypeCount),
		c("resp_pkts", frame.TypeCount),
		c("resp_ip_bytes", frame.TypeCount),
		{Name: "tunnel_parents", Type: frame.TypeSet, Elem: frame.TypeString},
	}}
}

// Epoch is the ts of the first record's end: 2026-11-26 14:00:00 UTC, in
// seconds since the Unix epoch.
const Epoch = 1795701600

// Population sizes.
const (
	internalV4 = 3000
	internalV6 = 200
	externalV4 = 18800
	externalV6 = 1200
	servers    = 40
)

// service is one kind of connection: where it goes and how big it is.
type service struct {
	weight   float64
	port     uint16
	proto    frame.Protocol
	name     string  // Zeek's service; "" for none detected
	internal float64 // share of responders that are internal servers
	// log-normal medians (seconds, bytes) and sigmas
	durMed, durSigma   float64
	origMed, origSigma float64
	respMed, respSigma float64
}

// services is the outbound mix; weights are relative.
var services = []service{
	{38, 443, frame.ProtoTCP, "ssl", 0.05, 2.5, 2.0, 1400, 1.3, 6500, 2.0},
	{20, 53, frame.ProtoUDP, "dns", 0.85, 0.012, 1.2, 38, 0.3, 110, 0.6},
	{7, 80, frame.ProtoTCP, "http", 0.10, 0.8, 2.0, 480, 0.9, 18000, 2.4},
	{6, 443, frame.ProtoUDP, "quic", 0.0, 4.0, 1.8, 3200, 1.2, 24000, 2.2},
	{2, 123, frame.ProtoUDP, "ntp", 0.30, 0.03, 0.8, 48, 0, 48, 0},
	{1.2, 22, frame.ProtoTCP, "ssh", 0.60, 30, 2.5, 4000, 1.8, 6000, 2.0},
	{0.8, 25, frame.ProtoTCP, "smtp", 0.50, 1.5, 1.0, 9000, 2.0, 900, 0.6},
	{2.5, 445, frame.ProtoTCP, "smb", 1.0, 5, 2.5, 3000, 2.2, 9000, 2.5},
	{0.6, 3389, frame.ProtoTCP, "rdp", 1.0, 300, 2.0, 200000, 1.5, 2000000, 1.5},
	{1.5, 88, frame.ProtoTCP, "krb_tcp", 1.0, 0.01, 1.0, 1500, 0.5, 1400, 0.5},
	{1.5, 389, frame.ProtoTCP, "ldap", 1.0, 0.3, 2.0, 900, 1.0, 3000, 1.5},
	{1.2, 135, frame.ProtoTCP, "dce_rpc", 1.0, 0.05, 1.0, 200, 0.5, 180, 0.5},
	{0.4, 67, frame.ProtoUDP, "dhcp", 1.0, 0.002, 1.0, 300, 0.1, 300, 0.1},
	{1.5, 5353, frame.ProtoUDP, "dns", 0, 0, 0, 120, 0.8, 0, 0},    // mDNS, multicast
	{0.6, 8, frame.ProtoICMP, "", 0.3, 1.0, 1.5, 56, 0, 56, 0},     // echo; port = type
	{3, 0, frame.ProtoTCP, "", 0.3, 1.0, 2.5, 300, 2.0, 1000, 2.5}, // unknown high port
	{1.5, 0, frame.ProtoUDP, "", 0.3, 0.5, 2.5, 200, 1.8, 400, 2.2},
}

// choice is a weighted string.
type choice struct {
	w float64
	s string
}

// TCP connection outcomes (conn_state) with their histories.
var tcpStates = []struct {
	w       float64
	state   string
	history []choice
}{
	{70, "SF", []choice{{30, "ShADadFf"}, {25, "ShADadfF"}, {12, "ShADdaFf"}, {10, "ShAdDaFf"},
		{5, "ShADadtFf"}, {5, "ShADaFdf"}, {4, "ShADadFRf"}, {3, "ShADadttFf"}, {2, "ShAdDafF"}, {2, "ShADFadf"}}},
	{8, "S0", []choice{{1, "S"}}},
	{3, "REJ", []choice{{1, "Sr"}}},
	{5, "RSTO", []choice{{50, "ShADadR"}, {20, "ShADaR"}, {10, "ShAR"}, {8, "ShADadtR"}, {5, "ShADR"}}},
	{6, "RSTR", []choice{{40, "ShADadr"}, {30, "ShADadFr"}, {10, "ShADr"}, {8, "Shr"}}},
	{2, "SH", []choice{{1, "SF"}, {1, "SaF"}}},
	{1, "S1", []choice{{2, "ShAD"}, {1, "ShADad"}}},
	{3, "OTH", []choice{{3, "DdA"}, {2, "^dA"}, {2, "Da"}, {1, "CdA"}}},
	{1, "S3", []choice{{1, "ShADadF"}}},
	{0.5, "RSTOS0", []choice{{1, "SR"}}},
	{0.5, "SHR", []choice{{1, "^hr"}}},
}

var udpStates = []struct {
	w       float64
	state   string
	history []choice
}{
	{75, "SF", []choice{{1, "Dd"}}},
	{22, "S0", []choice{{1, "D"}}},
	{2, "SHR", []choice{{1, "^d"}}},
	{1, "OTH", []choice{{1, "^dD"}}},
}

// scanPorts are the ports inbound scanners try.
var scanPorts = []uint16{22, 23, 80, 443, 445, 3389, 8080, 1433, 3306, 5900, 25, 21, 8443, 6379, 9200}

// Gen generates conn.log records; see the package doc. It is not safe for
// concurrent use.
type Gen struct {
	r              *rng
	end            int64     // µs since the Unix epoch: the end clock
	intV4, extV4   [][4]byte // IPv4 hosts, compact: drawn at random, they must stay in cache
	intV6, extV6   []netip.Addr
	srv, resolvers []netip.Addr
	dmz            []netip.Addr
	zIntV4, zIntV6 *zipf
	zExtV4, zExtV6 *zipf
	zSrv           *zipf
	svcCum, tcpCum []float64
	udpCum         []float64
	mdns, mdns6    netip.Addr
	dhcpSrv        netip.Addr
	arena          []byte   // uid bytes; see uid
	pool           []conn   // see poolSize
	at, run        int      // the next pool entry, and how many more to take from it on
	blocks         []uint16 // the pool's blocks of poolRun, in this pass's order
	blk            int      // the next in blocks
	fresh          bool     // draw each record's connection (tests: the pool's effect)
	one            conn     // with fresh
}

// New returns a generator of the record sequence for seed.
func New(seed uint64) *Gen {
	r := newRNG(seed, 0x5eed_c0_11_1065)
	g := &Gen{r: r, end: Epoch * 1e6}
	g.intV4 = make([][4]byte, internalV4)
	for i := range g.intV4 {
		// 10.<site 16-31>.<vlan>.<host>: 250 hosts per /24.
		n := i + 1
		g.intV4[i] = [4]byte{10, byte(16 + n/(250*16)), byte(n / 250 % 16 * 8), byte(n%250 + 2)}
	}
	r.Shuffle(len(g.intV4), func(i, j int) { g.intV4[i], g.intV4[j] = g.intV4[j], g.intV4[i] })
	g.intV6 = make([]netip.Addr, internalV6)
	for i := range g.intV6 {
		var b [16]byte
		copy(b[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x10, 0x00, byte(i % 8)})
		iid := r.Uint64()
		for k := 0; k < 8; k++ {
			b[8+k] = byte(iid >> (8 * k))
		}
		g.intV6[i] = netip.AddrFrom16(b)
	}
	g.extV4 = make([][4]byte, externalV4)
	for i := range g.extV4 {
		g.extV4[i] = publicV4(r).As4()
	}
	g.extV6 = make([]netip.Addr, externalV6)
	for i := range g.extV6 {
		var b [16]byte
		hi, lo := r.Uint64(), r.Uint64()
		for k := 0; k < 8; k++ {
			b[k] = byte(hi >> (56 - 8*k))
			b[8+k] = byte(lo >> (56 - 8*k))
		}
		b[0], b[1] = 0x2a, 0x00|b[1]&0x0f // 2a00::/12, as much of Europe's space
		if i%3 == 0 {
			b[0], b[1], b[2], b[3] = 0x26, 0x06, 0x47, 0x00 // a large CDN's /32
		}
		g.extV6[i] = netip.AddrFrom16(b)
	}
	for i := range servers {
		g.srv = append(g.srv, netip.AddrFrom4([4]byte{10, 0, byte(1 + i/20), byte(10 + i%20)}))
	}
	g.resolvers = []netip.Addr{
		netip.AddrFrom4([4]byte{10, 0, 0, 53}), netip.AddrFrom4([4]byte{10, 0, 0, 54}),
		netip.MustParseAddr("2001:db8:10::53"),
	}
	for i := range 12 {
		g.dmz = append(g.dmz, netip.AddrFrom4([4]byte{10, 0, 200, byte(10 + i)}))
	}
	g.mdns = netip.AddrFrom4([4]byte{224, 0, 0, 251})
	g.mdns6 = netip.MustParseAddr("ff02::fb")
	g.dhcpSrv = netip.AddrFrom4([4]byte{10, 0, 0, 1})
	g.zIntV4 = newZipf(1.07, 8, internalV4)
	g.zIntV6 = newZipf(1.07, 4, internalV6)
	g.zExtV4 = newZipf(1.15, 3, externalV4)
	g.zExtV6 = newZipf(1.15, 3, externalV6)
	g.zSrv = newZipf(1.3, 1, servers)
	for _, s := range services {
		g.svcCum = appendCum(g.svcCum, s.weight)
	}
	for _, s := range tcpStates {
		g.tcpCum = appendCum(g.tcpCum, s.w)
	}
	for _, s := range udpStates {
		g.udpCum = appendCum(g.udpCum, s.w)
	}
	g.drawPool()
	return g
}

func appendCum(c []float64, w float64) []float64 {
	if len(c) > 0 {
		w += c[len(c)-1]
	}
	return append(c, w)
}

// pick returns an index by the cumulative weights cum.
func (g *Gen) pick(cum []float64) int {
	x := g.r.Float64() * cum[len(cum)-1]
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}

func (g *Gen) pickChoice(cs []choice) string {
	if len(cs) == 1 {
		return cs[0].s
	}
	var total float64
	for _, c := range cs {
		total += c.w
	}
	x := g.r.Float64() * total
	for _, c := range cs {
		if x < c.w {
			return c.s
		}
		x -= c.w
	}
	return cs[len(cs)-1].s
}

// publicV4 returns a random unicast address outside private and reserved
// ranges.
func publicV4(r *rng) netip.Addr {
	for {
		u := r.Uint32()
		a := byte(u >> 24)
		b := byte(u >> 16)
		switch {
		case a == 0, a == 10, a == 127, a >= 224,
			a == 172 && b&0xf0 == 16, a == 192 && b == 168, a == 169 && b == 254, a == 100 && b&0xc0 == 64:
			continue
		}
		return netip.AddrFrom4([4]byte{a, b, byte(u >> 8), byte(u)})
	}
}

// logNormal returns med·e^(sigma·N(0,1)), at most max.
func (g *Gen) logNormal(med, sigma, max float64) float64 {
	if sigma == 0 {
		return med
	}
	return math.Min(med*fastExp(sigma*g.r.NormFloat64()), max)
}

func isLocal(a netip.Addr) bool {
	if a.Is4() {
		b := a.As4()
		return b[0] == 10 || b[0] == 192 && b[1] == 168
	}
	b := a.As16()
	return b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8 && b[4] == 0 && b[5] == 0x10
}

// conn is one connection before it becomes values.
type conn struct {
	orig, resp           netip.Addr
	origP, respP         uint16
	proto                frame.Protocol
	service, state, hist string
	dur                  int64 // µs; -1 unset
	origB, respB         int64 // -1 unset
	missed               int64
	origPk, respPk       int64
	origIP, respIP       int64

	// Set for the pool (drawPool).
	ephemeral            bool // origP is drawn per record
	localOrig, localResp bool
	protoName            string
}

// The pool: New draws poolSize connections from the model, and Next takes
// them in runs of poolRun consecutive ones, drawing only what must be
// unique or varies by the record: the end clock, the ephemeral port, the
// uid, the tunnel parent. Drawing a connection from the model costs some
// 2500 instructions, and the bench's worker generates a record for each
// one it writes and counts it in its CPU: it was a third of the worker's
// time. Runs rather than a random pick per record: a random entry of a
// 6 MB pool missed every cache level (400 ns a record); a run is read in
// order, which the hardware prefetches. The runs are the pool's aligned
// blocks in an order shuffled on every pass over the pool, so that no
// connection comes twice in a pass: random picks, or runs from random
// starts, repeat 2.4 connections per 400-record batch, which made the
// batches 0.3% more compressible than records drawn one by one from the
// model. With the shuffled blocks they compress the same (wire bytes
// within 1%, TestPoolCompression).
const (
	poolBits = 15
	poolSize = 1 << poolBits
	poolRun  = 64
)

// drawPool fills the connection pool from the model.
func (g *Gen) drawPool() {
	g.pool = make([]conn, poolSize)
	for i := range g.pool {
		g.drawConn(&g.pool[i])
	}
	g.blocks = make([]uint16, poolSize/poolRun)
	for i := range g.blocks {
		g.blocks[i] = uint16(i)
	}
	g.blk = len(g.blocks) // shuffled before the first run
}

// drawConn draws a connection from the model.
func (g *Gen) drawConn(c *conn) {
	*c = conn{}
	svc := &services[g.pick(g.svcCum)]
	inbound := svc.proto == frame.ProtoTCP && g.r.IntN(100) < 8
	if inbound {
		g.inbound(c)
	} else {
		g.outbound(c, svc)
	}
	g.sizes(c, svc, inbound)
	// Fixed originator ports (ntp, mdns, dhcp, icmp's type) are all below
	// the ephemeral range.
	c.ephemeral = c.origP >= 32768
	c.localOrig, c.localResp = isLocal(c.orig), isLocal(c.resp)
	c.protoName = c.proto.String()
}

// Next appends record id's values to dst[:0] and returns it: NumColumns
// values in Schema order. Distinct ids give distinct uids (RecordID
// recovers the id). The strings it returns are never modified afterwards.
//
// It allocates nothing once dst has room, but for a new 64 KiB uid arena
// every ~3600 records and the 0.3% of records with tunnel parents.
func (g *Gen) Next(dst []frame.Value, id uint64) []frame.Value {
	g.end += int64(g.r.ExpFloat64()*400) + 1
	if g.run == 0 {
		if g.blk == len(g.blocks) {
			for i := len(g.blocks) - 1; i > 0; i-- { // Fisher-Yates
				j := g.r.IntN(i + 1)
				g.blocks[i], g.blocks[j] = g.blocks[j], g.blocks[i]
			}
			g.blk = 0
		}
		g.at, g.run = int(g.blocks[g.blk])*poolRun, poolRun
		g.blk++
	}
	c := &g.pool[g.at]
	g.at, g.run = g.at+1, g.run-1
	if g.fresh {
		c = &g.one
		g.drawConn(c)
	}
	origP := c.origP
	if c.ephemeral {
		origP = g.ephemeral()
	}
	ts := g.end
	if c.dur > 0 {
		ts -= c.dur
	}
	uid := g.uid(permute(id, check(id)))
	// Each value is stored in place: an append of the 21 would build them
	// on the stack first and copy them (1.7 KB) into dst.
	if cap(dst) < NumColumns {
		dst = make([]frame.Value, NumColumns)
	}
	dst = dst[:NumColumns]
	dst[ColTS] = frame.NewTimestamp(time.Unix(0, ts*1000))
	dst[ColUID] = frame.NewString(uid)
	dst[ColOrigH] = frame.NewAddr(c.orig)
	dst[ColOrigP] = frame.NewPort(frame.Port{Number: origP, Proto: c.proto})
	dst[ColRespH] = frame.NewAddr(c.resp)
	dst[ColRespP] = frame.NewPort(frame.Port{Number: c.respP, Proto: c.proto})
	dst[ColProto] = frame.NewEnum(c.protoName)
	dst[ColService] = optString(c.service)
	dst[ColDuration] = optSpan(c.dur)
	dst[ColOrigBytes] = optCount(c.origB)
	dst[ColRespBytes] = optCount(c.respB)
	dst[ColConnState] = frame.NewString(c.state)
	dst[ColLocalOrig] = frame.NewBool(c.localOrig)
	dst[ColLocalResp] = frame.NewBool(c.localResp)
	dst[ColMissedBytes] = frame.NewCount(uint64(c.missed))
	dst[ColHistory] = optString(c.hist)
	dst[ColOrigPkts] = frame.NewCount(uint64(c.origPk))
	dst[ColOrigIPBytes] = frame.NewCount(uint64(c.origIP))
	dst[ColRespPkts] = frame.NewCount(uint64(c.respPk))
	dst[ColRespIPBytes] = frame.NewCount(uint64(c.respIP))
	dst[ColTunnelParents] = frame.None
	if g.r.IntN(1000) < 3 {
		// A connection inside a tunnel (Teredo, AYIYA, VXLAN): its parent's
		// uid, another random-looking uid.
		var b [12]byte
		for i := range b {
			b[i] = byte(g.r.Uint32())
		}
		hi := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		lo := uint32(b[8]) | uint32(b[9])<<8 | uint32(b[10])<<16 | uint32(b[11])<<24
		dst[ColTunnelParents] = frame.NewSet(frame.NewString(g.uid(hi, lo)))
	}
	return dst
}

func optString(s string) frame.Value {
	if s == "" {
		return frame.None
	}
	return frame.NewString(s)
}

func optSpan(us int64) frame.Value {
	if us < 0 {
		return frame.None
	}
	return frame.NewTimespan(time.Duration(us) * time.Microsecond)
}

func optCount(n int64) frame.Value {
	if n < 0 {
		return frame.None
	}
	return frame.NewCount(uint64(n))
}

func (g *Gen) internalHost() netip.Addr {
	if g.r.IntN(100) < 6 {
		return g.intV6[g.zIntV6.draw(g.r.Uint64())]
	}
	return netip.AddrFrom4(g.intV4[g.zIntV4.draw(g.r.Uint64())])
}

func (g *Gen) externalHost(v6 bool) netip.Addr {
	if v6 {
		return g.extV6[g.zExtV6.draw(g.r.Uint64())]
	}
	return netip.AddrFrom4(g.extV4[g.zExtV4.draw(g.r.Uint64())])
}

func (g *Gen) ephemeral() uint16 { return uint16(32768 + g.r.IntN(61000-32768)) }

func (g *Gen) outbound(c *conn, svc *service) {
	c.orig = g.internalHost()
	v6 := c.orig.Is6()
	c.origP, c.respP, c.proto, c.service = g.ephemeral(), svc.port, svc.proto, svc.name
	switch {
	case svc.port == 0: // unknown service on a high port
		c.respP = uint16(1024 + g.r.IntN(64511))
		if g.r.Float64() < svc.internal && !v6 {
			c.resp = g.srv[g.zSrv.draw(g.r.Uint64())]
		} else {
			c.resp = g.externalHost(v6)
		}
	case svc.proto == frame.ProtoICMP:
		c.origP, c.respP = 8, 0
		c.resp = g.externalHost(v6)
		if g.r.Float64() < svc.internal && !v6 {
			c.resp = g.srv[g.zSrv.draw(g.r.Uint64())]
		}
	case svc.port == 5353:
		c.origP = 5353
		if v6 {
			c.resp = g.mdns6
		} else {
			c.resp = g.mdns
		}
	case svc.port == 67:
		c.origP = 68
		c.resp = g.dhcpSrv
		if v6 {
			c.orig = netip.AddrFrom4(g.intV4[g.zIntV4.draw(g.r.Uint64())])
		}
	case svc.port == 53:
		if g.r.Float64() < svc.internal {
			if v6 {
				c.resp = g.resolvers[2]
			} else {
				c.resp = g.resolvers[g.r.IntN(2)]
			}
		} else {
			c.resp = g.externalHost(v6)
		}
	case g.r.Float64() < svc.internal:
		if v6 {
			c.orig = netip.AddrFrom4(g.intV4[g.zIntV4.draw(g.r.Uint64())]) // the Windows estate is IPv4
		}
		c.resp = g.srv[g.zSrv.draw(g.r.Uint64())]
	default:
		c.resp = g.externalHost(v6)
	}
	if svc.port == 123 {
		c.origP = 123
	}
}

// inbound makes an internet-to-site connection: mostly scans that fail,
// some to the DMZ's public services.
func (g *Gen) inbound(c *conn) {
	c.proto = frame.ProtoTCP
	c.origP = g.ephemeral()
	if g.r.IntN(100) < 60 {
		c.orig = publicV4(g.r)
		c.resp = netip.AddrFrom4(g.intV4[g.r.IntN(len(g.intV4))])
		c.respP = scanPorts[g.r.IntN(len(scanPorts))]
		c.state, c.hist = "S0", "S"
		if g.r.IntN(3) == 0 {
			c.state, c.hist = "REJ", "Sr"
		}
		return
	}
	c.orig = g.externalHost(false)
	c.resp = g.dmz[g.r.IntN(len(g.dmz))]
	switch g.r.IntN(10) {
	case 0, 1, 2, 3, 4, 5:
		c.respP, c.service = 443, "ssl"
	case 6, 7:
		c.respP, c.service = 80, "http"
	default:
		c.respP, c.service = 25, "smtp"
	}
}

// sizes draws state, history, duration, bytes and packets.
func (g *Gen) sizes(c *conn, svc *service, inbound bool) {
	legitInbound := inbound && c.state == ""
	if c.state == "" {
		switch c.proto {
		case frame.ProtoTCP:
			s := &tcpStates[g.pick(g.tcpCum)]
			c.state, c.hist = s.state, g.pickChoice(s.history)
		case frame.ProtoUDP:
			s := &udpStates[g.pick(g.udpCum)]
			c.state, c.hist = s.state, g.pickChoice(s.history)
			if svc.port == 5353 || svc.port == 67 && g.r.IntN(2) == 0 {
				c.state, c.hist = "S0", "D"
			}
		default:
			c.state = "OTH"
		}
	}
	hdr := int64(52) // IPv4 + TCP with timestamps
	if c.proto != frame.ProtoTCP {
		hdr = 28
	}
	if c.orig.Is6() {
		hdr += 20
	}
	mss := int64(1448)
	if c.proto != frame.ProtoTCP {
		mss = 1200
	}
	if svc.port == 0 && c.proto == frame.ProtoUDP {
		mss = 600
	}
	c.dur = int64(g.logNormal(svc.durMed, svc.durSigma, 86400) * 1e6)
	c.origB = int64(g.logNormal(svc.origMed, svc.origSigma, 1e10))
	c.respB = int64(g.logNormal(svc.respMed, svc.respSigma, 4e10))
	if legitInbound {
		c.dur = int64(g.logNormal(0.8, 2.0, 3600) * 1e6)
		c.origB = int64(g.logNormal(700, 1.2, 1e8))
		c.respB = int64(g.logNormal(12000, 2.2, 1e9))
	}
	switch c.state {
	case "S0", "RSTOS0":
		c.service = ""
		c.origPk, c.respPk = 1, 0
		if c.proto == frame.ProtoTCP && g.r.IntN(3) == 0 {
			c.origPk = int64(2 + g.r.IntN(2)) // SYN retries at 1 s, 3 s
		}
		if c.proto == frame.ProtoUDP && svc.port == 53 {
			c.origPk = int64(1 + g.r.IntN(2))
		}
		if c.origPk == 1 {
			c.dur, c.origB, c.respB = -1, -1, -1
			if c.proto == frame.ProtoUDP {
				c.origIP = hdr + int64(g.logNormal(svc.origMed, svc.origSigma, 1400))
			} else {
				c.origIP = hdr + 8
			}
		} else {
			c.dur = int64(c.origPk-1)*1e6 + int64(g.r.IntN(20000))
			if c.proto == frame.ProtoTCP {
				c.origB, c.respB = 0, 0
				c.origIP = c.origPk * (hdr + 8)
			} else {
				c.respB = 0
				c.origIP = c.origPk*hdr + c.origB
			}
		}
		c.respIP = 0
		if c.state == "RSTOS0" {
			c.origPk++
			c.origIP += hdr - 12
		}
		return
	case "REJ", "SHR":
		c.service = ""
		c.dur = int64(g.logNormal(0.02, 1.2, 5) * 1e6)
		c.origB, c.respB = 0, 0
		c.origPk, c.respPk = 1, 1
		c.origIP, c.respIP = hdr+8, hdr-12
		if c.proto == frame.ProtoUDP {
			c.origB = int64(g.logNormal(svc.origMed, 1, 1400))
			c.origIP, c.respIP = hdr+c.origB, hdr
		}
		return
	case "OTH":
		if c.proto != frame.ProtoICMP {
			c.service = ""
			c.origB /= 4
			c.respB /= 4
		}
	case "RSTO", "RSTR", "S1", "S3", "SH":
		c.origB /= 2
		c.respB /= 3
		if c.state == "SH" {
			c.respB = 0
		}
	}
	if c.proto == frame.ProtoICMP {
		n := int64(1 + g.r.IntN(10))
		c.origPk, c.respPk = n, n-int64(g.r.IntN(2))
		c.origB, c.respB = 56*c.origPk, 56*c.respPk
		c.dur = (n-1)*1e6 + int64(g.r.IntN(30000))
		c.origIP, c.respIP = c.origPk*(hdr+8)+c.origB, c.respPk*(hdr+8)+c.respB
		return
	}
	if c.service != "" && g.r.IntN(100) < 4 {
		c.service = "" // the analyzer did not recognize it
	}
	origSegs := (c.origB + mss - 1) / mss
	respSegs := (c.respB + mss - 1) / mss
	if c.proto == frame.ProtoTCP {
		ctl := int64(2)
		c.origPk = ctl + origSegs + respSegs/2 + int64(g.r.IntN(3))
		c.respPk = ctl + respSegs + origSegs/2 + int64(g.r.IntN(2))
		if g.r.IntN(100) < 8 { // retransmissions
			c.origPk += 1 + origSegs/50
			c.respPk += 1 + respSegs/40
		}
		if g.r.IntN(200) == 0 && c.respB > 10000 {
			c.missed = mss * int64(1+g.r.IntN(int(min(respSegs/4+1, 50))))
		}
	} else {
		c.origPk = max(origSegs, 1)
		c.respPk = respSegs
		if c.respB == 0 {
			c.respPk = 0
		}
	}
	if c.respPk == 0 {
		c.respB = 0
	}
	c.origIP = c.origB + c.origPk*hdr
	c.respIP = c.respB + c.respPk*hdr
	if c.proto == frame.ProtoTCP {
		c.origIP += 8 // SYN options
		c.respIP += 8
	}
}
