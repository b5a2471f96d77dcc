package tx

import (
	"errors"
	"fmt"

	"github.com/provena/provena/energy"
	"github.com/provena/provena/energy/wire"
)

// Wire types of the energy module's job-side messages.
const (
	TypeEnergyWorkerProfile MsgType = 310
	TypeEnergyReceipt       MsgType = 311
)

// MaxEnergyReceiptBytes bounds an encoded receipt.
const MaxEnergyReceiptBytes = 4096

func init() {
	RegisterMsg(TypeEnergyWorkerProfile, "energy_worker_profile", energyDecoder(func(r *wire.Reader) MsgEnergyWorkerProfile {
		return MsgEnergyWorkerProfile{
			Zone: r.String(energy.MaxZoneLen, "zone"), CPUFamily: r.String(64, "cpu family"), VCPUs: r.U32("vcpus"),
			MachineVCPUs: r.U32("machine vcpus"), PUEMilli: r.U32("pue"), EmbodiedG: r.U64("embodied g"), LifespanHours: r.U64("lifespan"),
		}
	}))
	RegisterMsg(TypeEnergyReceipt, "energy_receipt", energyDecoder(func(r *wire.Reader) MsgEnergyReceipt {
		return MsgEnergyReceipt{Receipt: r.Bytes(MaxEnergyReceiptBytes, "receipt")}
	}))
}

// MsgEnergyWorkerProfile records the sender's (a worker's) energy profile:
// its grid zone and the Cloud Carbon Footprint parameters its receipts
// estimate with, and the embodied-carbon inputs of its machine.
type MsgEnergyWorkerProfile struct {
	Zone          string `json:"zone"`
	CPUFamily     string `json:"cpu_family"`
	VCPUs         uint32 `json:"vcpus"`         // reserved per job
	MachineVCPUs  uint32 `json:"machine_vcpus"` // of the whole machine
	PUEMilli      uint32 `json:"pue_milli"`
	EmbodiedG     uint64 `json:"embodied_g"`
	LifespanHours uint64 `json:"lifespan_h"`
}

// Type implements Msg.
func (MsgEnergyWorkerProfile) Type() MsgType { return TypeEnergyWorkerProfile }

// AppendBody implements Msg.
func (m MsgEnergyWorkerProfile) AppendBody(b []byte) []byte {
	b = wire.AppendString(b, m.Zone)
	b = wire.AppendString(b, m.CPUFamily)
	b = wire.AppendU32(b, m.VCPUs)
	b = wire.AppendU32(b, m.MachineVCPUs)
	b = wire.AppendU32(b, m.PUEMilli)
	b = wire.AppendU64(b, m.EmbodiedG)
	return wire.AppendU64(b, m.LifespanHours)
}

// ValidateBasic implements Msg.
func (m MsgEnergyWorkerProfile) ValidateBasic() error {
	if _, err := energy.LookupCPUFamily(m.CPUFamily); err != nil {
		return err
	}
	switch {
	case m.VCPUs == 0 || m.VCPUs > m.MachineVCPUs:
		return fmt.Errorf("vcpus %d must be 1..machine vcpus %d", m.VCPUs, m.MachineVCPUs)
	case m.PUEMilli < 1000 || m.PUEMilli > 5000:
		return fmt.Errorf("PUE %d/1000 out of range 1.000..5.000", m.PUEMilli)
	case m.LifespanHours == 0:
		return errors.New("lifespan must be positive")
	case m.EmbodiedG > 1e9:
		return errors.New("embodied carbon above 1000 t is implausible")
	}
	return CheckEnergyZone(m.Zone)
}

// MsgEnergyReceipt stores a worker-signed energy receipt (energy.Receipt,
// canonical bytes) with the opML job it accounts for.
type MsgEnergyReceipt struct {
	Receipt []byte `json:"receipt"`
}

// Type implements Msg.
func (MsgEnergyReceipt) Type() MsgType { return TypeEnergyReceipt }

// AppendBody implements Msg.
func (m MsgEnergyReceipt) AppendBody(b []byte) []byte { return wire.AppendBytes(b, m.Receipt) }

// ValidateBasic implements Msg: the receipt decodes and its signature
// verifies.
func (m MsgEnergyReceipt) ValidateBasic() error {
	r, err := energy.DecodeReceipt(m.Receipt)
	if err != nil {
		return err
	}
	return r.Verify()
}
