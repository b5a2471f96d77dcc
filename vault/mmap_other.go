//go:build !linux

package vault

import (
	"errors"
	"os"
)

type mapping struct{ b []byte }

// mapFile has no memory map here: EncryptFile reads the file.
func mapFile(*os.File, int64) (*mapping, error) { return nil, errors.ErrUnsupported }

func (m *mapping) unmap() {}

func (m *mapping) release([]byte) {}
