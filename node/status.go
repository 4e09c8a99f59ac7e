package node

import (
	"net"
	"unsafe"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/netio"
)

// StatusKind says what happened to a peer.
type StatusKind uint8

// Status kinds (Broker's peer_added, peer_lost, peer_removed, and
// peer_recovered for a lost peer that came back).
const (
	StatusPeerAdded StatusKind = iota + 1
	StatusPeerLost
	StatusPeerRemoved
	StatusPeerRecovered
)

var statusNames = [...]string{"", "peer_added", "peer_lost", "peer_removed", "peer_recovered"}

func (k StatusKind) String() string {
	if int(k) < len(statusNames) && k > 0 {
		return statusNames[k]
	}
	return "status(?)"
}

// PeerInfo identifies a peer in a status event.
type PeerInfo struct {
	ID       frame.NodeID
	Name     string
	Role     frame.Role
	Addr     net.Addr
	DialAddr string // "" for a peer that dialed this node
}

func infoOf(p *netio.Peer) PeerInfo {
	return PeerInfo{ID: p.ID, Name: p.Name, Role: p.Role, Addr: p.Addr, DialAddr: p.DialAddr}
}

// Status is a change in the node's peerings. Err is the reason for lost and
// removed peers.
type Status struct {
	Kind StatusKind
	Peer PeerInfo
	Err  error
}

// Status returns the channel of status events. It is bounded
// (Options.StatusQueue); when nobody reads it, new events are dropped and
// counted (StatusDropped) rather than holding up the network.
func (n *Node) Status() <-chan Status { return n.status }

// StatusDropped counts status events dropped because the channel was full.
func (n *Node) StatusDropped() uint64 { return n.statusDropped.Load() }

func (n *Node) emit(s Status) {
	n.log.Debug("status", "kind", s.Kind.String(), "peer", s.Peer.Name, "err", s.Err)
	select {
	case n.status <- s:
	default:
		n.statusDropped.Add(1)
	}
}

// unsafeBytes views a string's bytes without copying. The frame encoders
// only read it.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
