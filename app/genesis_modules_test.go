package app_test

import (
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/energy"
	"github.com/provena/provena/tx"
)

// TestEnergyAuthorityComesFromGenesis: the public development key sets the
// oracle set only on a chain whose genesis names it; a genesis without an
// energy section leaves the oracle set unchangeable.
func TestEnergyAuthorityComesFromGenesis(t *testing.T) {
	auth := energy.DevAuthorityKey()
	set := tx.MsgEnergySetOracles{Version: 1, Oracles: []tx.Address{apptest.Addr(enOracle)}, AuthorityPubKey: auth.Public().(ed25519.PublicKey)}
	set.AuthoritySig = ed25519.Sign(auth, set.SignBytes())

	cases := []struct {
		name     string
		modules  map[string]json.RawMessage
		wantCode uint32
		wantLog  string
	}{
		{"named in genesis", map[string]json.RawMessage{"energy": app.DevEnergyGenesis()}, app.CodeOK, ""},
		{"no energy section", nil, app.CodeEnergyUnauthorized, "names no energy authority"},
		{"another authority", map[string]json.RawMessage{"energy": json.RawMessage(`{"authority":"` + strings.Repeat("ab", 32) + `"}`)}, app.CodeEnergyUnauthorized, "named in genesis"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := app.OpenMem()
			defer a.Close()
			g := app.Genesis{Params: app.DefaultParams(), Modules: tc.modules,
				Accounts: []app.GenesisAccount{{Address: apptest.Addr(enBuyer).String(), Balance: 1_000_000}}}
			b, _ := json.Marshal(g)
			if _, err := a.InitChain(apptest.ChainID, b); err != nil {
				t.Fatal(err)
			}
			txb := apptest.Sign(enBuyer, 0, app.DefaultParams().MinFee, set)
			res, err := a.ExecuteBlock(app.Block{Height: 1, Time: time.Unix(enHour, 0), Txs: [][]byte{txb}})
			if err != nil {
				t.Fatal(err)
			}
			r := res.TxResults[0]
			if r.Code != tc.wantCode || !strings.Contains(r.Log, tc.wantLog) {
				t.Fatalf("code %d log %q, want %d containing %q", r.Code, r.Log, tc.wantCode, tc.wantLog)
			}
		})
	}
}

func TestGenesisModuleSections(t *testing.T) {
	for _, tc := range []struct {
		name    string
		modules string
		wantErr string
	}{
		{"unknown module", `{"nosuch":{}}`, "modules.nosuch: no such module"},
		{"bad authority", `{"energy":{"authority":"zz"}}`, "not a hex ed25519 public key"},
		{"unknown field", `{"energy":{"authority":"` + strings.Repeat("00", 32) + `","x":1}}`, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := app.OpenMem()
			defer a.Close()
			p, _ := json.Marshal(app.DefaultParams())
			g := `{"params":` + string(p) + `,"accounts":[],"modules":` + tc.modules + `}`
			if _, err := a.InitChain(apptest.ChainID, []byte(g)); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("InitChain error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestTeeConfigFromGenesis: a genesis tee section configures the module, and
// tee_config can then no longer name another simulated root.
func TestTeeConfigFromGenesis(t *testing.T) {
	root := strings.Repeat("cd", 32)
	a := app.OpenMem()
	defer a.Close()
	g := app.Genesis{Params: app.DefaultParams(),
		Accounts: []app.GenesisAccount{{Address: apptest.Addr(enBuyer).String(), Balance: 1_000_000}},
		Modules:  map[string]json.RawMessage{"tee": json.RawMessage(`{"sim_roots":["` + root + `"],"max_age_secs":3600}`)}}
	b, _ := json.Marshal(g)
	if _, err := a.InitChain(apptest.ChainID, b); err != nil {
		t.Fatal(err)
	}
	other := tx.MsgTeeConfig{SimRoots: []string{strings.Repeat("ef", 32)}, MaxAgeSecs: 60}
	res, err := a.ExecuteBlock(app.Block{Height: 1, Time: time.Unix(enHour, 0), Txs: [][]byte{apptest.Sign(enBuyer, 0, app.DefaultParams().MinFee, other)}})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.TxResults[0]; r.Code != app.CodeTeeConfig || !strings.Contains(r.Log, "already configured") {
		t.Fatalf("tee_config after a genesis section: code %d log %q", r.Code, r.Log)
	}
	if _, err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	q := a.Query("/tee/config", nil, 0, false)
	if q.Code != 0 || !strings.Contains(string(q.Value), root) {
		t.Fatalf("/tee/config: code %d log %q value %s", q.Code, q.Log, q.Value)
	}

	bad := app.OpenMem()
	defer bad.Close()
	g.Modules = map[string]json.RawMessage{"tee": json.RawMessage(`{"sim_roots":["xyz"],"max_age_secs":3600}`)}
	b, _ = json.Marshal(g)
	if _, err := bad.InitChain(apptest.ChainID, b); err == nil || !strings.Contains(err.Error(), "sim_roots[0]") {
		t.Fatalf("bad tee section: %v", err)
	}
}
