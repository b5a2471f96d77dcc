package opmlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Sealed blobs are the private job modes' inputs and outputs: age
// ciphertexts (vault.Seal) addressed by their SHA-256, which is what the
// chain records. A node stores and serves them without any key, so it
// never holds the plaintext:
//
//	PUT/GET /v1/opml/sealed/{sha256 of the bytes}

// MaxSealedBytes bounds one sealed blob.
const MaxSealedBytes = MaxInputsBytes

func (s Dir) sealedPath(h [32]byte) string {
	return filepath.Join(string(s), "sealed", hex.EncodeToString(h[:])+".age")
}

// PutSealed stores a sealed blob under its SHA-256 and returns it.
func (s Dir) PutSealed(b []byte) ([32]byte, error) {
	h := sha256.Sum256(b)
	p := s.sealedPath(h)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return h, fmt.Errorf("sealed store: %w", err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return h, fmt.Errorf("sealed store: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return h, fmt.Errorf("sealed store: %w", err)
	}
	return h, nil
}

// Sealed loads a stored sealed blob and checks it against its hash.
func (s Dir) Sealed(h [32]byte) ([]byte, error) {
	b, err := os.ReadFile(s.sealedPath(h))
	if err != nil {
		return nil, fmt.Errorf("sealed store: %w", err)
	}
	if sha256.Sum256(b) != h {
		return nil, fmt.Errorf("sealed store: %s does not hash to its name", s.sealedPath(h))
	}
	return b, nil
}

func getSealed(w http.ResponseWriter, s Dir, h [32]byte) {
	b, err := s.Sealed(h)
	if err != nil {
		notFound(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(b)
}

func putSealed(w http.ResponseWriter, r *http.Request, s Dir, h [32]byte) {
	b, ok := readBody(w, r, MaxSealedBytes)
	if !ok {
		return
	}
	if got := sha256.Sum256(b); got != h {
		writeErr(w, http.StatusBadRequest, "hash_mismatch", fmt.Sprintf("body has SHA-256 %x, path says %x", got, h))
		return
	}
	if _, err := s.PutSealed(b); err != nil {
		writeErr(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"sha256": hex.EncodeToString(h[:])})
}

// Sealed returns the sealed blob with SHA-256 h from the local store or,
// failing that, from the first source whose copy hashes to h (cached).
func (f *Fetcher) Sealed(ctx context.Context, h [32]byte) ([]byte, error) {
	b, lerr := f.Store.Sealed(h)
	if lerr == nil {
		return b, nil
	}
	errs := []error{lerr}
	for _, src := range f.Sources {
		b, err := f.get(ctx, src, Prefix+"sealed/"+hex.EncodeToString(h[:]), MaxSealedBytes)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if got := sha256.Sum256(b); got != h {
			errs = append(errs, fmt.Errorf("sealed blob from %s has SHA-256 %x, want %x: rejected", src, got, h))
			continue
		}
		if _, err := f.Store.PutSealed(b); err != nil {
			return nil, fmt.Errorf("cache sealed %x: %w", h, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("sealed %x: %w", h, errors.Join(errs...))
}

// UploadSealed stores a sealed blob on the node at base and returns its
// SHA-256.
func UploadSealed(ctx context.Context, c *http.Client, base string, b []byte) ([32]byte, error) {
	h := sha256.Sum256(b)
	return h, put(ctx, c, strings.TrimRight(base, "/")+Prefix+"sealed/"+hex.EncodeToString(h[:]), "application/octet-stream", b)
}
