package tx

import (
	"fmt"
	"sort"
	"sync"
)

// MsgType identifies a message kind on the wire. Values are consensus
// critical: never renumber one, only add new ones.
type MsgType uint16

// Msg is the body of a transaction: what the sender asks the ledger to do.
// Each message kind lives in its own file and registers itself with
// RegisterMsg from init, so adding one touches nothing else in this package.
type Msg interface {
	// Type is the registered wire type.
	Type() MsgType
	// AppendBody appends the canonical binary body. Decoding those bytes with
	// the registered decoder must give back an equal message.
	AppendBody(b []byte) []byte
	// ValidateBasic checks what can be checked without state (non-zero
	// amounts and the like).
	ValidateBasic() error
}

// MsgDecoder parses a message body. It must reject bytes that are not the
// canonical encoding of some message, and it must not panic.
type MsgDecoder func(body []byte) (Msg, error)

type msgKind struct {
	name   string
	decode MsgDecoder
}

var (
	msgMu    sync.RWMutex
	msgKinds = map[MsgType]msgKind{}
)

// RegisterMsg makes a message type decodable. It panics on a duplicate type
// or name, which is a programming error found at start-up.
func RegisterMsg(t MsgType, name string, decode MsgDecoder) {
	msgMu.Lock()
	defer msgMu.Unlock()
	if k, ok := msgKinds[t]; ok {
		panic(fmt.Sprintf("tx: message type %d registered twice (%s, %s)", t, k.name, name))
	}
	for ot, k := range msgKinds {
		if k.name == name {
			panic(fmt.Sprintf("tx: message name %q registered twice (types %d, %d)", name, ot, t))
		}
	}
	msgKinds[t] = msgKind{name: name, decode: decode}
}

// MsgName returns the registered name of t ("transfer"), or "" if unknown.
func MsgName(t MsgType) string {
	msgMu.RLock()
	defer msgMu.RUnlock()
	return msgKinds[t].name
}

// MsgTypeByName returns the type registered under name.
func MsgTypeByName(name string) (MsgType, bool) {
	msgMu.RLock()
	defer msgMu.RUnlock()
	for t, k := range msgKinds {
		if k.name == name {
			return t, true
		}
	}
	return 0, false
}

// RegisteredMsgs lists the registered message types in ascending order.
func RegisteredMsgs() []MsgType {
	msgMu.RLock()
	defer msgMu.RUnlock()
	ts := make([]MsgType, 0, len(msgKinds))
	for t := range msgKinds {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts
}

// UnknownMsgTypeError is returned when a transaction carries a message type
// nobody registered.
type UnknownMsgTypeError struct {
	Type MsgType
}

func (e *UnknownMsgTypeError) Error() string {
	return fmt.Sprintf("unknown message type %d", e.Type)
}

func decodeMsg(t MsgType, body []byte) (Msg, error) {
	msgMu.RLock()
	k, ok := msgKinds[t]
	msgMu.RUnlock()
	if !ok {
		return nil, &UnknownMsgTypeError{Type: t}
	}
	m, err := k.decode(body)
	if err != nil {
		return nil, fmt.Errorf("decode %s message: %w", k.name, err)
	}
	if m == nil || m.Type() != t {
		return nil, fmt.Errorf("decode %s message: decoder returned a different message type", k.name)
	}
	return m, nil
}
