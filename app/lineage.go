package app

import (
	"fmt"
	"strconv"

	"github.com/provena/provena/tx"
)

// Lineage: a registered opML model declares once which datasets it was
// trained on and the share of its fee each earns (tx.MsgModelLineage).
// When a job settles, the model fee is split in the same block: each
// dataset gets floor(fee × bps / 10000) through PayRoyalties' accounting
// (owner and contributor pool, one "job" usage receipt per dataset), and
// the model owner gets the rest, rounding remainders included. The split
// is recorded in the job's Payouts.
func init() {
	RegisterHandler(tx.TypeModelLineage, HandlerFunc(handleModelLineage))
	RegisterQuery(QueryDataLineage, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			p, err := parseParts(d, "MODEL")
			if err != nil {
				return nil, err
			}
			return LineageKey(p.asset), nil
		},
		Render: renderStored[ModelLineage](prefixLineage, 32),
	})
}

// QueryDataLineage answers a model's lineage: data MODEL (64 hex); value
// ModelLineage or null.
const QueryDataLineage = "/data/lineage"

var prefixLineage = []byte("l/m/") // <model id 32> -> ModelLineage JSON

// LineageKey is the state key of a model's lineage.
func LineageKey(model tx.DataHash) []byte { return dataKey(prefixLineage, model[:]) }

// ModelLineage is a model's declared training datasets.
type ModelLineage struct {
	Model     tx.DataHash `json:"model"`
	Owner     tx.Address  `json:"owner"`
	TrainedOn []Royalty   `json:"trained_on"`
	Height    int64       `json:"height"`
}

func handleModelLineage(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgModelLineage)
	var model OpmlModel
	ok, err := opmlGet(ctx, OpmlModelKey(msg.Model), &model)
	if err != nil {
		return err
	}
	if !ok {
		return Fail(CodeOpmlUnknown, "model %s is not registered", msg.Model)
	}
	if model.Owner != sender {
		return Fail(CodeOpmlNotAllowed, "model %s belongs to %s; only its owner declares its lineage", msg.Model, model.Owner)
	}
	var old ModelLineage
	if ok, err := getJSON(ctx, LineageKey(msg.Model), &old); err != nil {
		return err
	} else if ok {
		// Dataset owners rely on the declared shares: they never change.
		return Fail(CodeOpmlExists, "model %s declared its lineage at height %d; a lineage cannot change", msg.Model, old.Height)
	}
	rs := make([]Royalty, len(msg.TrainedOn))
	for i, s := range msg.TrainedOn {
		rs[i] = Royalty{Asset: s.Asset, Bps: s.Bps}
	}
	if err := CheckRoyalties(ctx, rs); err != nil {
		return err
	}
	rec := ModelLineage{Model: msg.Model, Owner: sender, TrainedOn: rs, Height: ctx.Height()}
	if err := setJSON(ctx, LineageKey(msg.Model), rec); err != nil {
		return err
	}
	ctx.Emit("data_lineage", "model", msg.Model.String(), "datasets", strconv.Itoa(len(rs)))
	return nil
}

// LoadLineage returns a model's lineage, or nil when it declared none.
func LoadLineage(ctx *Context, model tx.DataHash) (*ModelLineage, error) {
	var l ModelLineage
	ok, err := getJSON(ctx, LineageKey(model), &l)
	if err != nil || !ok {
		return nil, err
	}
	return &l, nil
}

// BpsText shows basis points as a percentage ("30%", "12.5%").
func BpsText(bps uint32) string {
	s := strconv.FormatUint(uint64(bps/100), 10)
	if r := bps % 100; r != 0 {
		s += "." + fmt.Sprintf("%02d", r)
		for s[len(s)-1] == '0' {
			s = s[:len(s)-1]
		}
	}
	return s + "%"
}

// lineagePayModelFee pays a settled job's model fee out of the module's
// escrow: first each dataset of the model's lineage its share (receipts
// name the requester as payer and "job:<id>"), then the model owner the
// rest. Every payment is appended to j.Payouts.
func lineagePayModelFee(ctx *Context, j *OpmlJob) error {
	lin, err := LoadLineage(ctx, tx.DataHash(j.ModelID))
	if err != nil {
		return err
	}
	if lin == nil {
		return opmlPay(ctx, j, j.Owner, j.ModelFee, "model fee")
	}
	payouts, err := payRoyaltiesFrom(ctx, OpmlAddress, j.Requester, "job:"+strconv.FormatUint(j.ID, 10), lin.TrainedOn, j.ModelFee)
	if err != nil {
		// Lineage was checked when it was recorded and assets are never
		// deleted, so this is a broken state, not the job's fault.
		return fmt.Errorf("job %d: dataset royalties: %w", j.ID, err)
	}
	var paid uint64
	for i, p := range payouts {
		paid += p.Amount
		share := BpsText(lin.TrainedOn[i].Bps)
		if p.ToOwner > 0 {
			j.Payouts = append(j.Payouts, OpmlPayout{To: p.Owner, Amount: p.ToOwner, Why: fmt.Sprintf("royalty %s of the model fee: dataset %s, owner (receipt %d)", share, p.Asset, p.Receipt)})
			ctx.Emit("opml_payout", "job", u64(j.ID), "to", p.Owner.String(), "amount", u64(p.ToOwner), "why", "royalty", "asset", p.Asset.String())
		}
		if p.ToContributors > 0 {
			j.Payouts = append(j.Payouts, OpmlPayout{To: DataPoolAddress, Amount: p.ToContributors, Why: fmt.Sprintf("royalty %s of the model fee: dataset %s, contributor pool (receipt %d)", share, p.Asset, p.Receipt)})
			ctx.Emit("opml_payout", "job", u64(j.ID), "to", DataPoolAddress.String(), "amount", u64(p.ToContributors), "why", "royalty to contributors", "asset", p.Asset.String())
		}
	}
	return opmlPay(ctx, j, j.Owner, j.ModelFee-paid, "model fee after dataset royalties")
}
