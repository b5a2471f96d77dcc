package cli

import (
	"fmt"

	"github.com/provena/provena/model"
	"github.com/provena/provena/worker"
)

// openZkProver opens a .zk artifact as a worker's prover.
func openZkProver(path string) (worker.Prover, error) {
	return nil, fmt.Errorf("--zk %s: zk artifacts cannot be opened yet (package zk has no artifact format); zk jobs need a quantized model and its artifact", path)
}

// zkSetupFor opens a .zk artifact for model m as ModesDemo's zk setup.
func zkSetupFor(path string, m *model.Model) (*worker.ZkSetup, error) {
	_, err := openZkProver(path)
	return nil, err
}
