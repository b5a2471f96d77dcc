package app

import (
	"github.com/provena/provena/tx"
)

// The bank module moves balances between accounts.
func init() { RegisterHandler(tx.TypeTransfer, HandlerFunc(handleTransfer)) }

func handleTransfer(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgTransfer)
	from, err := ctx.Account(sender)
	if err != nil {
		return err
	}
	if from.Balance < msg.Amount {
		return Fail(CodeInsufficientFunds, "insufficient funds: balance %d %s after fee, transfer needs %d %s", from.Balance, Denom, msg.Amount, Denom)
	}
	if msg.To == sender {
		// A self-transfer changes nothing but must still be valid.
		ctx.Emit("transfer", "sender", sender.String(), "recipient", msg.To.String(), "amount", u64(msg.Amount))
		return nil
	}
	to, err := ctx.Account(msg.To)
	if err != nil {
		return err
	}
	if to.Balance, err = add(to.Balance, msg.Amount, "recipient balance"); err != nil {
		return err
	}
	from.Balance -= msg.Amount
	if err := ctx.SetAccount(sender, &from); err != nil {
		return err
	}
	if err := ctx.SetAccount(msg.To, &to); err != nil {
		return err
	}
	ctx.Emit("transfer", "sender", sender.String(), "recipient", msg.To.String(), "amount", u64(msg.Amount))
	return nil
}
