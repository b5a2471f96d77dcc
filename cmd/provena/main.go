// Command provena runs a Provena node, a worker, and the client commands.
package main

import (
	"fmt"
	"os"

	"github.com/provena/provena/cli"
)

func main() {
	if err := cli.NewRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
