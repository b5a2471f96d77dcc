package tx

import (
	"fmt"
)

// TypeTeeCollateral posts vendor TCB collateral (app/tee_collateral.go).
const TypeTeeCollateral MsgType = 403

// TeeMaxCollateral bounds a posted collateral set; Intel's TDX set (TCB
// info, QE identity, two CRLs with their issuer chains) is about 15 KB.
const TeeMaxCollateral = 64 << 10

// TeeCollateralKinds are the kinds whose collateral the chain can verify
// and keep. SEV-SNP's revocation list is not among them yet: see
// docs/tee.md.
var TeeCollateralKinds = []string{"tdx"}

func init() {
	RegisterMsg(TypeTeeCollateral, "tee_collateral", jsonDecoder[MsgTeeCollateral]())
}

// MsgTeeCollateral posts a kind's vendor collateral: for tdx, the JSON
// file `provena tee verify --collateral` reads (Intel PCS URL -> header
// and body). Anyone may send it: the chain verifies the vendor's
// signatures at the block time, so the sender is trusted with nothing.
type MsgTeeCollateral struct {
	Kind       string `json:"kind"`
	Collateral []byte `json:"collateral"`
}

func (MsgTeeCollateral) Type() MsgType                { return TypeTeeCollateral }
func (m MsgTeeCollateral) AppendBody(b []byte) []byte { return appendJSON(b, m) }

// ValidateBasic implements Msg.
func (m MsgTeeCollateral) ValidateBasic() error {
	if err := CheckTeeCollateralKind(m.Kind); err != nil {
		return fmt.Errorf("tee collateral: %w", err)
	}
	if len(m.Collateral) == 0 || len(m.Collateral) > TeeMaxCollateral {
		return fmt.Errorf("tee collateral: %d bytes, want 1..%d", len(m.Collateral), TeeMaxCollateral)
	}
	return nil
}

// CheckTeeCollateralKind says whether on-chain collateral exists for kind.
func CheckTeeCollateralKind(kind string) error {
	for _, k := range TeeCollateralKinds {
		if k == kind {
			return nil
		}
	}
	if checkTeeKind(kind) == nil {
		return fmt.Errorf("kind %q has no on-chain collateral (only %v)", kind, TeeCollateralKinds)
	}
	return fmt.Errorf("kind %q: want one of %v", kind, TeeCollateralKinds)
}
