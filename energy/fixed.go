package energy

import (
	"errors"
	"math/big"
)

// errOverflow is returned when a result does not fit in uint64.
var errOverflow = errors.New("energy: result overflows uint64")

// ratio computes round-half-up(product(num) / product(den)) exactly. It is
// the one place integer formulas round, so every figure is a deterministic
// function of its integer inputs.
func ratio(num []uint64, den []uint64) (uint64, error) {
	n := big.NewInt(1)
	for _, v := range num {
		n.Mul(n, new(big.Int).SetUint64(v))
	}
	d := big.NewInt(1)
	for _, v := range den {
		if v == 0 {
			return 0, errors.New("energy: division by zero")
		}
		d.Mul(d, new(big.Int).SetUint64(v))
	}
	// (2n + d) / 2d rounds half up.
	n.Lsh(n, 1).Add(n, d)
	d.Lsh(d, 1)
	n.Quo(n, d)
	if !n.IsUint64() {
		return 0, errOverflow
	}
	return n.Uint64(), nil
}

func addU(a, b uint64) (uint64, error) {
	if a+b < a {
		return 0, errOverflow
	}
	return a + b, nil
}
