package app

import (
	"fmt"

	"github.com/provena/provena/tx"
)

// The staking module locks balance as bonded stake and returns it after the
// unbonding delay. The bond is the collateral later verification games
// slash; it does not change the CometBFT validator set.
func init() {
	RegisterHandler(tx.TypeBond, HandlerFunc(handleBond))
	RegisterHandler(tx.TypeUnbond, HandlerFunc(handleUnbond))
	RegisterEndBlocker("staking", matureUnbonding)
}

func handleBond(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgBond)
	acc, err := ctx.Account(sender)
	if err != nil {
		return err
	}
	if acc.Balance < msg.Amount {
		return Fail(CodeInsufficientFunds, "insufficient funds: balance %d %s after fee, bond needs %d %s", acc.Balance, Denom, msg.Amount, Denom)
	}
	sup, err := ctx.Supply()
	if err != nil {
		return err
	}
	if acc.Bonded, err = add(acc.Bonded, msg.Amount, "bonded stake"); err != nil {
		return err
	}
	if sup.Bonded, err = add(sup.Bonded, msg.Amount, "total bonded"); err != nil {
		return err
	}
	acc.Balance -= msg.Amount
	if err := ctx.SetAccount(sender, &acc); err != nil {
		return err
	}
	if err := ctx.SetSupply(sup); err != nil {
		return err
	}
	ctx.Emit("bond", "address", sender.String(), "amount", u64(msg.Amount), "bonded", u64(acc.Bonded))
	return nil
}

func handleUnbond(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgUnbond)
	acc, err := ctx.Account(sender)
	if err != nil {
		return err
	}
	if acc.Bonded < msg.Amount {
		return Fail(CodeInsufficientFunds, "insufficient bonded stake: bonded %d %s, unbond needs %d %s", acc.Bonded, Denom, msg.Amount, Denom)
	}
	matures := ctx.Height() + ctx.Params().UnbondingBlocks
	n := len(acc.Unbonding)
	merge := n > 0 && acc.Unbonding[n-1].MaturesAt == matures
	if !merge && n >= maxUnbondingEntries {
		return Fail(CodeInvalidMsg, "too many unbonding entries (%d); wait for one to mature", n)
	}
	sup, err := ctx.Supply()
	if err != nil {
		return err
	}
	if sup.Unbonding, err = add(sup.Unbonding, msg.Amount, "total unbonding"); err != nil {
		return err
	}
	if merge {
		if acc.Unbonding[n-1].Amount, err = add(acc.Unbonding[n-1].Amount, msg.Amount, "unbonding entry"); err != nil {
			return err
		}
	} else {
		acc.Unbonding = append(acc.Unbonding, UnbondingEntry{Amount: msg.Amount, MaturesAt: matures})
	}
	acc.Bonded -= msg.Amount
	sup.Bonded -= msg.Amount
	if err := ctx.SetAccount(sender, &acc); err != nil {
		return err
	}
	if err := ctx.SetSupply(sup); err != nil {
		return err
	}
	if err := ctx.Set(unbondingQueueKey(matures, sender), []byte{}); err != nil {
		return err
	}
	ctx.Emit("unbond", "address", sender.String(), "amount", u64(msg.Amount), "matures_at", i64(matures))
	return nil
}

// matureUnbonding moves every unbonding entry maturing at this height back
// to its account's balance.
func matureUnbonding(ctx *Context) error {
	var addrs []tx.Address
	err := ctx.Iterate(unbondingQueuePrefix(ctx.Height()), func(k, _ []byte) bool {
		var a tx.Address
		copy(a[:], k[len(prefixUnbonding)+8:])
		addrs = append(addrs, a)
		return true
	})
	if err != nil {
		return fmt.Errorf("mature unbonding: %w", err)
	}
	if len(addrs) == 0 {
		return nil
	}
	sup, err := ctx.Supply()
	if err != nil {
		return err
	}
	for _, a := range addrs {
		acc, err := ctx.Account(a)
		if err != nil {
			return err
		}
		var matured uint64
		keep := acc.Unbonding[:0]
		for _, e := range acc.Unbonding {
			if e.MaturesAt <= ctx.Height() {
				matured += e.Amount // cannot overflow: bounded by the supply
			} else {
				keep = append(keep, e)
			}
		}
		if len(keep) == 0 {
			keep = nil
		}
		acc.Unbonding = keep
		if matured > sup.Unbonding {
			return fmt.Errorf("mature unbonding: %s has %d %s maturing but the supply records only %d unbonding", a, matured, Denom, sup.Unbonding)
		}
		if acc.Balance, err = add(acc.Balance, matured, "balance"); err != nil {
			return err
		}
		sup.Unbonding -= matured
		if err := ctx.SetAccount(a, &acc); err != nil {
			return err
		}
		if err := ctx.Delete(unbondingQueueKey(ctx.Height(), a)); err != nil {
			return err
		}
		ctx.Emit("unbond_matured", "address", a.String(), "amount", u64(matured))
	}
	return ctx.SetSupply(sup)
}
