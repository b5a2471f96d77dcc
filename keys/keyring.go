// Package keys is the account keyring of a Provena home: one ed25519 key per
// file in <home>/keyring/.
//
// Two backends exist. "file" (the default) encrypts each private key at rest
// with a passphrase through age's scrypt recipient; "test" stores the seed in
// plaintext and is meant for tests, the demo and throwaway networks only.
//
// The passphrase comes from a caller-supplied function (the CLI reads
// PROVENA_KEYRING_PASSPHRASE or prompts without echo); it is never stored or
// logged, and errors never contain secret bytes.
package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"filippo.io/age"

	"github.com/provena/provena/tx"
)

// Backend names accepted by Open.
const (
	BackendFile = "file"
	BackendTest = "test"
)

// PassphraseEnv is the environment variable the CLI reads the keyring
// passphrase from before falling back to a prompt.
const PassphraseEnv = "PROVENA_KEYRING_PASSPHRASE"

var (
	// ErrNotFound is returned when no key has the requested name.
	ErrNotFound = errors.New("key not found")
	// ErrExists is returned when adding a key under a name already taken.
	ErrExists = errors.New("key already exists")
	// ErrWrongPassphrase is returned when an encrypted key does not open.
	ErrWrongPassphrase = errors.New("wrong keyring passphrase")
)

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Key is the public part of a keyring entry.
type Key struct {
	Name    string            `json:"name"`
	Address tx.Address        `json:"address"`
	PubKey  ed25519.PublicKey `json:"pubkey"`
	Backend string            `json:"backend"`
}

// keyFile is the on-disk form of one key. Private holds the 32-byte seed,
// either raw (test backend) or as an age file (file backend).
type keyFile struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	PubKey    []byte `json:"pubkey"`
	Backend   string `json:"backend"`
	Plaintext bool   `json:"plaintext,omitempty"`
	Private   []byte `json:"private"`
}

// Keyring is a directory of key files.
type Keyring struct {
	dir        string
	backend    string
	passphrase func() (string, error)
	workFactor int
}

// Option changes how a Keyring is opened.
type Option func(*Keyring)

// WithPassphrase sets where the file backend gets its passphrase.
func WithPassphrase(f func() (string, error)) Option {
	return func(k *Keyring) { k.passphrase = f }
}

// WithScryptWorkFactor sets the scrypt log2 work factor for new keys. The
// default (age's, 18) takes about a second; tests use less.
func WithScryptWorkFactor(logN int) Option {
	return func(k *Keyring) { k.workFactor = logN }
}

// Dir returns the keyring directory of a home.
func Dir(home string) string { return filepath.Join(home, "keyring") }

// Open opens (and creates if needed) the keyring in dir with the given backend.
func Open(dir, backend string, opts ...Option) (*Keyring, error) {
	switch backend {
	case "":
		backend = BackendFile
	case BackendFile, BackendTest:
	default:
		return nil, fmt.Errorf("unknown keyring backend %q (want %q or %q)", backend, BackendFile, BackendTest)
	}
	k := &Keyring{dir: dir, backend: backend}
	for _, o := range opts {
		o(k)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create keyring dir %s: %w", dir, err)
	}
	return k, nil
}

// Backend returns the backend new keys are stored with.
func (k *Keyring) Backend() string { return k.backend }

func (k *Keyring) path(name string) string { return filepath.Join(k.dir, name+".key") }

func checkName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("invalid key name %q: use 1-64 letters, digits, '.', '_' or '-'", name)
	}
	return nil
}

// Add creates a new random key under name.
func (k *Keyring) Add(name string) (Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generate key: %w", err)
	}
	return k.Import(name, priv)
}

// Import stores an existing private key under name.
func (k *Keyring) Import(name string, priv ed25519.PrivateKey) (Key, error) {
	if err := checkName(name); err != nil {
		return Key{}, err
	}
	if len(priv) != ed25519.PrivateKeySize {
		return Key{}, fmt.Errorf("import key %s: private key has %d bytes, want %d", name, len(priv), ed25519.PrivateKeySize)
	}
	if _, err := os.Stat(k.path(name)); err == nil {
		return Key{}, fmt.Errorf("add key %s: %w", name, ErrExists)
	}
	pub := priv.Public().(ed25519.PublicKey)
	f := keyFile{
		Name:    name,
		Address: tx.AddressFromPubKey(pub).String(),
		PubKey:  pub,
		Backend: k.backend,
	}
	switch k.backend {
	case BackendTest:
		f.Plaintext = true
		f.Private = priv.Seed()
	case BackendFile:
		enc, err := k.encrypt(priv.Seed())
		if err != nil {
			return Key{}, fmt.Errorf("add key %s: %w", name, err)
		}
		f.Private = enc
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return Key{}, fmt.Errorf("encode key %s: %w", name, err)
	}
	// O_EXCL closes the race between the Stat above and a concurrent Add.
	fh, err := os.OpenFile(k.path(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return Key{}, fmt.Errorf("add key %s: %w", name, ErrExists)
		}
		return Key{}, fmt.Errorf("write key %s: %w", name, err)
	}
	if _, err := fh.Write(append(b, '\n')); err != nil {
		fh.Close()
		return Key{}, fmt.Errorf("write key %s: %w", name, err)
	}
	if err := fh.Close(); err != nil {
		return Key{}, fmt.Errorf("write key %s: %w", name, err)
	}
	return publicOf(f)
}

func (k *Keyring) getPassphrase() (string, error) {
	if k.passphrase == nil {
		return "", fmt.Errorf("keyring backend %q needs a passphrase: set %s", BackendFile, PassphraseEnv)
	}
	p, err := k.passphrase()
	if err != nil {
		return "", fmt.Errorf("read keyring passphrase: %w", err)
	}
	if p == "" {
		return "", errors.New("empty keyring passphrase")
	}
	return p, nil
}

func (k *Keyring) encrypt(seed []byte) ([]byte, error) {
	p, err := k.getPassphrase()
	if err != nil {
		return nil, err
	}
	r, err := age.NewScryptRecipient(p)
	if err != nil {
		return nil, fmt.Errorf("scrypt recipient: %w", err)
	}
	if k.workFactor > 0 {
		r.SetWorkFactor(k.workFactor)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, fmt.Errorf("encrypt key: %w", err)
	}
	if _, err := w.Write(seed); err != nil {
		return nil, fmt.Errorf("encrypt key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt key: %w", err)
	}
	return buf.Bytes(), nil
}

func (k *Keyring) decrypt(enc []byte) ([]byte, error) {
	p, err := k.getPassphrase()
	if err != nil {
		return nil, err
	}
	id, err := age.NewScryptIdentity(p)
	if err != nil {
		return nil, fmt.Errorf("scrypt identity: %w", err)
	}
	r, err := age.Decrypt(bytes.NewReader(enc), id)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) || strings.Contains(err.Error(), "incorrect passphrase") {
			return nil, ErrWrongPassphrase
		}
		return nil, fmt.Errorf("decrypt key: %w", err)
	}
	seed, err := io.ReadAll(io.LimitReader(r, 1024))
	if err != nil {
		return nil, fmt.Errorf("decrypt key: %w", err)
	}
	return seed, nil
}

func (k *Keyring) read(name string) (keyFile, error) {
	if err := checkName(name); err != nil {
		return keyFile{}, err
	}
	b, err := os.ReadFile(k.path(name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return keyFile{}, fmt.Errorf("key %q in %s: %w", name, k.dir, ErrNotFound)
		}
		return keyFile{}, fmt.Errorf("read key %s: %w", name, err)
	}
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return keyFile{}, fmt.Errorf("parse key file %s: %w", k.path(name), err)
	}
	if len(f.PubKey) != ed25519.PublicKeySize {
		return keyFile{}, fmt.Errorf("key file %s: public key has %d bytes", k.path(name), len(f.PubKey))
	}
	return f, nil
}

func publicOf(f keyFile) (Key, error) {
	pub := ed25519.PublicKey(f.PubKey)
	addr := tx.AddressFromPubKey(pub)
	if f.Address != "" && f.Address != addr.String() {
		return Key{}, fmt.Errorf("key file %s: address %s does not match its public key", f.Name, f.Address)
	}
	return Key{Name: f.Name, Address: addr, PubKey: pub, Backend: f.Backend}, nil
}

// Show returns the public part of a key.
func (k *Keyring) Show(name string) (Key, error) {
	f, err := k.read(name)
	if err != nil {
		return Key{}, err
	}
	return publicOf(f)
}

// PrivateKey opens a key for signing, asking for the passphrase if the key
// is encrypted.
func (k *Keyring) PrivateKey(name string) (ed25519.PrivateKey, error) {
	f, err := k.read(name)
	if err != nil {
		return nil, err
	}
	var seed []byte
	if f.Plaintext {
		seed = f.Private
	} else {
		seed, err = k.decrypt(f.Private)
		if err != nil {
			return nil, fmt.Errorf("open key %s: %w", name, err)
		}
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("open key %s: seed has %d bytes, want %d", name, len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), f.PubKey) {
		return nil, fmt.Errorf("open key %s: private key does not match the stored public key", name)
	}
	return priv, nil
}

// List returns every key, sorted by name.
func (k *Keyring) List() ([]Key, error) {
	entries, err := os.ReadDir(k.dir)
	if err != nil {
		return nil, fmt.Errorf("list keyring %s: %w", k.dir, err)
	}
	var out []Key
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".key")
		if e.IsDir() || !ok {
			continue
		}
		key, err := k.Show(name)
		if err != nil {
			return nil, err
		}
		out = append(out, key)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
