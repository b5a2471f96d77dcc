package keys

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"
)

func pass(p string) Option {
	return WithPassphrase(func() (string, error) { return p, nil })
}

func TestKeyringBackends(t *testing.T) {
	for _, backend := range []string{BackendFile, BackendTest} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			kr, err := Open(dir, backend, pass("correct horse"), WithScryptWorkFactor(10))
			if err != nil {
				t.Fatal(err)
			}
			bob, err := kr.Add("bob")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kr.Add("bob"); !errors.Is(err, ErrExists) {
				t.Fatalf("duplicate add: got %v, want ErrExists", err)
			}
			if _, err := kr.Add("alice"); err != nil {
				t.Fatal(err)
			}
			list, err := kr.List()
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
				t.Fatalf("list = %+v", list)
			}
			priv, err := kr.PrivateKey("bob")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(priv.Public().(ed25519.PublicKey), bob.PubKey) {
				t.Fatal("private key does not match public key")
			}
			raw, err := os.ReadFile(kr.path("bob"))
			if err != nil {
				t.Fatal(err)
			}
			hasSeed := bytes.Contains(raw, []byte(`"private": "`+b64(priv.Seed())))
			if hasSeed != (backend == BackendTest) {
				t.Fatalf("backend %s: plaintext seed on disk = %v", backend, hasSeed)
			}
			if _, err := kr.Show("carol"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing key: got %v, want ErrNotFound", err)
			}
			wrong, err := Open(dir, backend, pass("wrong"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = wrong.PrivateKey("bob")
			if backend == BackendFile && !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("wrong passphrase: got %v", err)
			}
			if backend == BackendTest && err != nil {
				t.Fatalf("test backend needs no passphrase: %v", err)
			}
		})
	}
}

func TestKeyringErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir, "os"); err == nil {
		t.Fatal("unknown backend accepted")
	}
	kr, err := Open(dir, BackendFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Add("x"); err == nil || !strings.Contains(err.Error(), PassphraseEnv) {
		t.Fatalf("no passphrase: got %v", err)
	}
	for _, name := range []string{"", "../evil", "a/b", strings.Repeat("n", 65)} {
		if _, err := kr.Add(name); err == nil {
			t.Fatalf("name %q accepted", name)
		}
	}
	if err := os.WriteFile(kr.path("junk"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Show("junk"); err == nil {
		t.Fatal("corrupt key file accepted")
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// FuzzKeyFile feeds arbitrary bytes as a key file: Show, List and
// PrivateKey must fail cleanly or return a consistent key, never panic.
func FuzzKeyFile(f *testing.F) {
	dir := f.TempDir()
	kr, err := Open(dir, BackendTest)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := kr.Add("seed"); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(kr.path("seed"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"name":"x","pubkey":"AAAA","private":"AAAA","plaintext":true}`))
	f.Add([]byte(`{"pubkey":"` + strings.Repeat("A", 43) + `=","private":"YWdl","plaintext":false}`))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := t.TempDir()
		kr, err := Open(d, BackendFile, pass("p"), WithScryptWorkFactor(10))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(kr.path("k"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		k, err := kr.Show("k")
		if err != nil {
			return
		}
		priv, err := kr.PrivateKey("k")
		if err == nil && !bytes.Equal(priv.Public().(ed25519.PublicKey), k.PubKey) {
			t.Fatal("opened a private key that does not match the public key")
		}
		kr.List()
	})
}
