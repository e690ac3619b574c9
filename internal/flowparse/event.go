package flowparse

import (
	"encoding/binary"
	"sync/atomic"
)

// Kind tells which family a record belongs to.
type Kind uint8

const (
	KindNSG  Kind = iota + 1 // NSG flow log (category NetworkSecurityGroupFlowEvent)
	KindVNet                 // VNet flow log (category FlowLogFlowEvent)
)

// Event is one flow tuple with the context of its record, rule and MAC.
//
// The parser reuses one Event for every tuple: byte fields point into the
// input (or into parser scratch space) and are valid only during the callback.
// Copy what must outlive it; Encoder.Append does that by encoding.
type Event struct {
	Kind    Kind
	Version int // 1, 2 or 4 as the record says; inferred from the tuple when absent

	RecordTime       []byte // the record's "time", as written
	Category         []byte
	FlowLogResource  []byte // NSG: resourceId; VNet: flowLogResourceID
	TargetResource   []byte // NSG: resourceId; VNet: targetResourceID
	SubscriptionID   []byte
	ResourceGroup    []byte
	Name             []byte // NSG name, or flow-log name for VNet
	AclID            []byte // VNet only
	Rule             []byte
	MAC              []byte // as written; the encoder normalises it
	Tuple            []byte // the raw tuple string
	TimeMillis       int64  // tuple time, Unix epoch milliseconds
	SrcIP, DestIP    []byte
	SrcPort          []byte // digits, or empty
	DestPort         []byte
	Protocol         []byte // raw field 5: T, U, or an IANA number
	Direction        []byte // raw field 6: I or O
	Decision         []byte // NSG field 7 (A/D); empty for VNet
	State            []byte // NSG v2 field 8, VNet field 7 (B/C/E/D)
	Encryption       []byte // VNet field 8
	HasCounters      bool
	PacketsSrcToDest int64
	BytesSrcToDest   int64
	PacketsDestToSrc int64
	BytesDestToSrc   int64

	// groupHash is the EventId hash state after resource, MAC and rule, so a
	// tuple only hashes its own bytes. groupSeq identifies the group (0: none).
	groupHash uint64
	groupSeq  uint64
}

// ProtocolNumber returns the IANA protocol number, or -1 when unknown.
func (e *Event) ProtocolNumber() int {
	p := e.Protocol
	if len(p) == 1 {
		switch p[0] {
		case 'T', 't':
			return 6
		case 'U', 'u':
			return 17
		}
	}
	n, ok := parseInt(p)
	if !ok || n < 0 || n > 255 {
		return -1
	}
	return int(n)
}

// Denied reports whether the flow was denied: decision D for NSG logs,
// state D for VNet logs.
func (e *Event) Denied() bool {
	if e.Kind == KindVNet {
		return len(e.State) == 1 && e.State[0] == 'D'
	}
	return len(e.Decision) == 1 && e.Decision[0] == 'D'
}

// EventID is a deterministic 64-bit hash of the flow-log resource, the MAC
// (normalised), the rule and the raw tuple: the same tuple read twice gets
// the same ID, whatever the MAC's case or the input's key order.
func (e *Event) EventID() uint64 {
	return finalize(hashBytes(e.groupHash, e.Tuple))
}

// The EventId hash ("nsgflow hash 1"): 8 bytes per step, multiply-xorshift
// mixing and a splitmix64 finaliser. Stable across versions and platforms;
// changing it changes every EventId, so it is frozen.
const (
	hashSeed = 0x9E3779B97F4A7C15
	hashM1   = 0xBF58476D1CE4E5B9
	hashM2   = 0x94D049BB133111EB
)

func hashBytes(h uint64, b []byte) uint64 {
	n := uint64(len(b))
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * hashM1
		h ^= h >> 29
		b = b[8:]
	}
	var w uint64
	for i, c := range b {
		w |= uint64(c) << (8 * uint(i))
	}
	h = (h ^ w ^ n<<56) * hashM2
	return h ^ h>>32
}

func finalize(h uint64) uint64 {
	h ^= h >> 31
	h *= hashM1
	h ^= h >> 29
	h *= hashM2
	return h ^ h>>32
}

// groupSeq numbers every (record, rule, MAC) context process-wide, so an
// Encoder can cache the JSON of a group's constant columns safely.
var groupSeq atomic.Uint64

// setGroupHash starts a new group: the EventId hash state after resource,
// MAC and rule, and a fresh group number.
func (e *Event) setGroupHash() {
	var mac [64]byte
	n := 0
	for _, c := range e.MAC {
		if c == '-' || c == ':' || c == '.' {
			continue
		}
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if n < len(mac) {
			mac[n] = c
			n++
		}
	}
	h := hashBytes(hashSeed, e.FlowLogResource)
	h = hashBytes(h, mac[:n])
	e.groupHash = hashBytes(h, e.Rule)
	e.groupSeq = groupSeq.Add(1)
}
