package tx

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Wire types of the staking messages.
const (
	TypeBond   MsgType = 2
	TypeUnbond MsgType = 3
)

func init() {
	RegisterMsg(TypeBond, "bond", func(b []byte) (Msg, error) {
		a, err := decodeAmount(b)
		return MsgBond{Amount: a}, err
	})
	RegisterMsg(TypeUnbond, "unbond", func(b []byte) (Msg, error) {
		a, err := decodeAmount(b)
		return MsgUnbond{Amount: a}, err
	})
}

// MsgBond locks Amount upv of the sender's balance as bonded stake (the
// worker bond that later verification games slash).
type MsgBond struct {
	Amount uint64 `json:"amount"`
}

// MsgUnbond starts returning Amount upv of bonded stake to the balance; it
// becomes spendable after the chain's unbonding delay in blocks.
type MsgUnbond struct {
	Amount uint64 `json:"amount"`
}

var (
	_ Msg = MsgBond{}
	_ Msg = MsgUnbond{}
)

// Type implements Msg.
func (MsgBond) Type() MsgType { return TypeBond }

// AppendBody implements Msg: the amount as 8 bytes big-endian.
func (m MsgBond) AppendBody(b []byte) []byte { return binary.BigEndian.AppendUint64(b, m.Amount) }

// ValidateBasic implements Msg.
func (m MsgBond) ValidateBasic() error {
	if m.Amount == 0 {
		return errors.New("bond amount must be positive")
	}
	return nil
}

// Type implements Msg.
func (MsgUnbond) Type() MsgType { return TypeUnbond }

// AppendBody implements Msg: the amount as 8 bytes big-endian.
func (m MsgUnbond) AppendBody(b []byte) []byte { return binary.BigEndian.AppendUint64(b, m.Amount) }

// ValidateBasic implements Msg.
func (m MsgUnbond) ValidateBasic() error {
	if m.Amount == 0 {
		return errors.New("unbond amount must be positive")
	}
	return nil
}

func decodeAmount(body []byte) (uint64, error) {
	if len(body) != 8 {
		return 0, fmt.Errorf("body is %d bytes, want 8", len(body))
	}
	return binary.BigEndian.Uint64(body), nil
}
