package tx

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Lineage and deferred submission: two messages that extend the data and
// energy ranges without changing an existing message's encoding.
const (
	// TypeModelLineage records which datasets a registered model was
	// trained on and the share of its fee each dataset earns (app/lineage.go).
	TypeModelLineage MsgType = 209
	// TypeEnergySubmitDeferred submits an opML job that waits for the
	// lowest-intensity posted hour before its deadline (app/energy_defer.go).
	TypeEnergySubmitDeferred MsgType = 312
)

const (
	// MaxLineage bounds the datasets one model declares, so that settling
	// a job writes a bounded number of receipts.
	MaxLineage = 32
	// MaxDeferHours bounds a job's deferral: the chain reads one posted
	// intensity per hour of the window.
	MaxDeferHours = 168
)

func init() {
	RegisterMsg(TypeModelLineage, "data_model_lineage", jsonDecoder[MsgModelLineage]())
	RegisterMsg(TypeEnergySubmitDeferred, "energy_submit_deferred", decodeSubmitDeferred)
}

// LineageShare is one dataset a model was trained on and its share of
// every model fee, in basis points.
type LineageShare struct {
	Asset DataHash `json:"asset"`
	Bps   uint32   `json:"bps"`
}

// MsgModelLineage declares, once and for good, the datasets the model
// Model (an opML model id) was trained on. Only the model's owner may send
// it; each job's model fee then pays every dataset its share at settlement.
type MsgModelLineage struct {
	Model     DataHash       `json:"model"`
	TrainedOn []LineageShare `json:"trained_on"`
}

// Type implements Msg.
func (MsgModelLineage) Type() MsgType { return TypeModelLineage }

// AppendBody implements Msg: canonical JSON.
func (m MsgModelLineage) AppendBody(b []byte) []byte { return appendJSON(b, m) }

// ValidateBasic implements Msg: at least one dataset, at most MaxLineage,
// none twice, every share positive and the shares at most 100% in total.
func (m MsgModelLineage) ValidateBasic() error {
	if m.Model.IsZero() {
		return errors.New("lineage: model id is zero")
	}
	if len(m.TrainedOn) == 0 {
		return errors.New("lineage: no datasets")
	}
	if len(m.TrainedOn) > MaxLineage {
		return fmt.Errorf("lineage: %d datasets, limit %d", len(m.TrainedOn), MaxLineage)
	}
	var total uint64
	for i, s := range m.TrainedOn {
		if s.Asset.IsZero() {
			return fmt.Errorf("lineage: dataset %d has a zero id", i)
		}
		if s.Bps == 0 {
			return fmt.Errorf("lineage: dataset %s has a 0 share", s.Asset)
		}
		for _, o := range m.TrainedOn[:i] {
			if o.Asset == s.Asset {
				return fmt.Errorf("lineage: dataset %s named twice", s.Asset)
			}
		}
		total += uint64(s.Bps)
	}
	if total > BpsDenom {
		return fmt.Errorf("lineage: shares sum to %d bps, over %d (100%%)", total, BpsDenom)
	}
	return nil
}

// MsgEnergySubmitDeferred is MsgSubmitJob with a deadline: the job is
// assigned in the hour, between submission and DeferHours later (by block
// time), whose posted grid intensity for the worker's zone is lowest.
type MsgEnergySubmitDeferred struct {
	DeferHours uint32
	Job        MsgSubmitJob
}

// Type implements Msg.
func (MsgEnergySubmitDeferred) Type() MsgType { return TypeEnergySubmitDeferred }

// AppendBody implements Msg: DeferHours as 4 bytes big-endian, then the
// job's own body.
func (m MsgEnergySubmitDeferred) AppendBody(b []byte) []byte {
	return m.Job.AppendBody(binary.BigEndian.AppendUint32(b, m.DeferHours))
}

// ValidateBasic implements Msg.
func (m MsgEnergySubmitDeferred) ValidateBasic() error {
	if m.DeferHours == 0 || m.DeferHours > MaxDeferHours {
		return fmt.Errorf("defer: %d hours, want 1 to %d", m.DeferHours, MaxDeferHours)
	}
	return m.Job.ValidateBasic()
}

func decodeSubmitDeferred(body []byte) (Msg, error) {
	if len(body) < 4 {
		return nil, fmt.Errorf("deferred job: %d bytes, want at least 4", len(body))
	}
	inner, err := decodeMsg(TypeSubmitJob, body[4:])
	if err != nil {
		return nil, fmt.Errorf("deferred job: %w", err)
	}
	job, ok := inner.(MsgSubmitJob)
	if !ok {
		return nil, fmt.Errorf("deferred job: inner message is %T", inner)
	}
	return MsgEnergySubmitDeferred{DeferHours: binary.BigEndian.Uint32(body), Job: job}, nil
}
