package tx

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// TypeTransfer is the wire type of MsgTransfer.
const TypeTransfer MsgType = 1

func init() { RegisterMsg(TypeTransfer, "transfer", decodeTransfer) }

// MsgTransfer moves Amount upv from the sender to To.
type MsgTransfer struct {
	To     Address `json:"to"`
	Amount uint64  `json:"amount"`
}

var _ Msg = MsgTransfer{}

// Type implements Msg.
func (MsgTransfer) Type() MsgType { return TypeTransfer }

// AppendBody implements Msg: 20 address bytes, then the amount as 8 bytes
// big-endian.
func (m MsgTransfer) AppendBody(b []byte) []byte {
	b = append(b, m.To[:]...)
	return binary.BigEndian.AppendUint64(b, m.Amount)
}

// ValidateBasic implements Msg.
func (m MsgTransfer) ValidateBasic() error {
	if m.Amount == 0 {
		return errors.New("transfer amount must be positive")
	}
	return nil
}

func decodeTransfer(body []byte) (Msg, error) {
	if len(body) != AddressLen+8 {
		return nil, fmt.Errorf("body is %d bytes, want %d", len(body), AddressLen+8)
	}
	var m MsgTransfer
	copy(m.To[:], body[:AddressLen])
	m.Amount = binary.BigEndian.Uint64(body[AddressLen:])
	return m, nil
}
