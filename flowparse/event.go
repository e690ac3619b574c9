package flowparse

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
	// tuple only hashes its own bytes.
	groupHash uint64
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

// EventID is a deterministic 64-bit hash of the flow-log resource, the MAC,
// the rule and the raw tuple: the same tuple read twice gets the same ID.
func (e *Event) EventID() uint64 {
	return hashBytes(e.groupHash, e.Tuple)
}

// FNV-1a, 64 bit: simple, stable across versions and platforms.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// hashMAC hashes a MAC address normalised (upper case, no separators), so
// "00-0d-3a" and "000D3A" give the same EventId.
func hashMAC(h uint64, mac []byte) uint64 {
	for _, c := range mac {
		if c == '-' || c == ':' || c == '.' {
			continue
		}
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// setGroupHash computes the hash state for the current resource, MAC and rule.
func (e *Event) setGroupHash() {
	h := hashBytes(fnvOffset, e.FlowLogResource)
	h = hashBytes(h, sep)
	h = hashMAC(h, e.MAC)
	h = hashBytes(h, sep)
	h = hashBytes(h, e.Rule)
	e.groupHash = hashBytes(h, sep)
}

var sep = []byte{0}
