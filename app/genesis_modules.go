package app

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// GenesisModule reads a module's section of the genesis (Genesis.Modules)
// and writes its initial state. It runs once, at InitChain, before block 1;
// an error aborts the chain's start with the module's name.
type GenesisModule func(ctx *Context, raw json.RawMessage) error

var (
	genesisMu      sync.RWMutex
	genesisModules = map[string]GenesisModule{}
)

// RegisterGenesisModule names a genesis section, from the module's init. A
// duplicate panics.
func RegisterGenesisModule(name string, fn GenesisModule) {
	genesisMu.Lock()
	defer genesisMu.Unlock()
	if _, dup := genesisModules[name]; dup {
		panic(fmt.Sprintf("app: genesis module %q registered twice", name))
	}
	genesisModules[name] = fn
}

func genesisModule(name string) (GenesisModule, bool) {
	genesisMu.RLock()
	defer genesisMu.RUnlock()
	fn, ok := genesisModules[name]
	return fn, ok
}

// sortedModuleNames returns the names of a genesis's module sections in
// order, so that InitChain writes them in the same order on every node.
func sortedModuleNames(m map[string]json.RawMessage) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
