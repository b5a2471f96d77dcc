//go:build !unix

package energy

import (
	"errors"
	"time"
)

func processCPUTime() (time.Duration, error) {
	return 0, errors.New("process CPU time is only read on unix systems")
}
