// Package deps pins the project's third-party modules in go.mod while the
// packages that use them are written. Remove once every module is imported.
package deps

import (
	_ "filippo.io/age"
	_ "github.com/cometbft/cometbft/node"
	_ "github.com/cosmos/cosmos-db"
	_ "github.com/cosmos/iavl"
	_ "google.golang.org/protobuf/encoding/protowire"
	_ "golang.org/x/image/font/opentype"
)
