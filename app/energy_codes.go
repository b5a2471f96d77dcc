package app

// Result codes of the energy module's messages. They live in their own
// range (300-309), away from the ledger's codes in code.go.
const (
	CodeEnergyUnknown      uint32 = 300 // no such device, bundle, offer or claim
	CodeEnergyBadReading   uint32 = 301 // meter reading rejected (signature, interval, capacity, overlap, register)
	CodeEnergyUnauthorized uint32 = 302 // not the owner, not an oracle, not the authority
	CodeEnergyState        uint32 = 303 // bundle in the wrong status, over-retirement, claim mismatch
	CodeEnergyLimit        uint32 = 304 // an index list or count is full
)

// EnergyCodeName names an energy result code ("" for other codes).
func EnergyCodeName(code uint32) string {
	switch code {
	case CodeEnergyUnknown:
		return "energy_unknown"
	case CodeEnergyBadReading:
		return "energy_bad_reading"
	case CodeEnergyUnauthorized:
		return "energy_unauthorized"
	case CodeEnergyState:
		return "energy_state"
	case CodeEnergyLimit:
		return "energy_limit"
	}
	return ""
}
