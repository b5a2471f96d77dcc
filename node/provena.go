package node

import (
	"fmt"
	"io"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/provena/provena/abciapp"
	"github.com/provena/provena/app"
)

// ProvenaApp opens the Provena application in <home>/data/app.
func ProvenaApp(home string) (abcitypes.Application, io.Closer, error) {
	a, err := app.Open(AppDir(home))
	if err != nil {
		return nil, nil, fmt.Errorf("open application state in %s: %w", AppDir(home), err)
	}
	return abciapp.New(a), closerFunc(a.Close), nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
