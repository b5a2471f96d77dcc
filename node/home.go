// Package node runs a Provena ledger node: CometBFT v1.0.1 in-process with the
// Provena application as a local ABCI client, plus the HTTP JSON API.
//
// It owns the home directory layout:
//
//	<home>/config/config.toml               CometBFT configuration
//	<home>/config/genesis.json              CometBFT genesis; app_state is app.Genesis
//	<home>/config/node_key.json             p2p identity
//	<home>/config/priv_validator_key.json   consensus key (also the proposer's fee account)
//	<home>/config/provena.json              Provena settings (API listen address)
//	<home>/data/                            CometBFT block store, state, WAL, indexes
//	<home>/data/app/                        application state (IAVL)
//	<home>/keyring/                         account keys (package keys)
//
// Init writes a one-validator home, Testnet writes n homes sharing one
// genesis, and Start runs a node until its context ends.
package node

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/spf13/viper"
)

// Settings is the Provena part of a home's configuration, kept beside
// CometBFT's config.toml so that CometBFT's file stays its own format.
type Settings struct {
	// APIListen is the host:port of the HTTP JSON API.
	APIListen string `json:"api_listen"`
	// LogLevel is the CometBFT log filter, e.g. "info" or "*:error".
	LogLevel string `json:"log_level"`
}

// DefaultAPIListen is where a single node serves the HTTP API.
const DefaultAPIListen = "127.0.0.1:1317"

// SettingsPath returns the path of a home's Provena settings file.
func SettingsPath(home string) string { return filepath.Join(home, "config", "provena.json") }

// AppDir returns the application state directory of a home.
func AppDir(home string) string { return filepath.Join(home, "data", "app") }

// LoadSettings reads a home's Provena settings.
func LoadSettings(home string) (Settings, error) {
	b, err := os.ReadFile(SettingsPath(home))
	if err != nil {
		return Settings{}, fmt.Errorf("read settings (is %s a provena home? run provena init): %w", home, err)
	}
	var s Settings
	if err := json.Unmarshal(b, &s); err != nil {
		return Settings{}, fmt.Errorf("parse %s: %w", SettingsPath(home), err)
	}
	if s.APIListen == "" {
		s.APIListen = DefaultAPIListen
	}
	return s, nil
}

func saveSettings(home string, s Settings) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode settings: %w", err)
	}
	if err := os.WriteFile(SettingsPath(home), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write settings: %w", err)
	}
	return nil
}

// LoadConfig reads CometBFT's config.toml of a home, rooted at home.
func LoadConfig(home string) (*cfg.Config, error) {
	path := filepath.Join(home, "config", "config.toml")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("read %s (is %s a provena home? run provena init): %w", path, home, err)
	}
	c, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	c.SetRoot(home)
	if err := c.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("invalid %s: %w", path, err)
	}
	return c, nil
}

// readConfigFile decodes config.toml the way CometBFT's own command does, so
// that every key CometBFT documents in that file is honoured.
func readConfigFile(path string) (*cfg.Config, error) {
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	c := cfg.DefaultConfig()
	if err := v.Unmarshal(c); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return c, nil
}
