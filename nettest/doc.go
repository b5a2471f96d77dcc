// Package nettest holds the ledger's network integration tests: real
// provena processes (CometBFT in-process in each) on 127.0.0.1 with ports
// chosen at run time, driven through the HTTP API and the CLI. Nothing of
// CometBFT is mocked. The package has no non-test code beyond this comment.
package nettest
