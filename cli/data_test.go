package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/blob"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/merkle"
	"github.com/provena/provena/vault"
)

// runCLI runs provena with args in-process and returns stdout.
func runCLI(args ...string) (string, error) {
	root := NewRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestDataCLIEndToEnd runs a real single-validator node (CometBFT
// in-process) and two blob stores, and drives add, grant, get, revoke,
// update, ls and show through the command line.
func TestDataCLIEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	dir := t.TempDir()
	home, _ := startTestNode(t, dir, "data-e2e", 50)

	// Two blob stores stand in for two nodes' stores.
	var stores []*blob.Store
	var urls []string
	for i := range 2 {
		s, err := blob.Open(filepath.Join(dir, fmt.Sprintf("blobs%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(blob.NewHandler(s))
		defer srv.Close()
		stores, urls = append(stores, s), append(urls, srv.URL)
	}
	kr, _ := keys.Open(keys.Dir(home), keys.BackendTest)
	bob, err := kr.Add("bob")
	if err != nil {
		t.Fatal(err)
	}
	carol, _ := kr.Add("carol")
	dave, _ := kr.Add("dave")
	for _, k := range []string{"bob", "carol", "dave"} {
		if _, err := runCLI("tx", "send", "--home", home, "--keyring-backend", "test", "--from", "alice", "--to", k, "--amount", "100000", "--wait"); err != nil {
			t.Fatal(err)
		}
	}
	common := []string{"--home", home, "--keyring-backend", "test", "--blob-nodes", strings.Join(urls, ",")}
	contrib := filepath.Join(dir, "contributors.json")
	os.WriteFile(contrib, []byte(fmt.Sprintf(`[{"address":%q,"weight":3},{"address":%q,"weight":1}]`, carol.Address, dave.Address)), 0o644)
	cli := func(args ...string) (string, error) { return runCLI(append(args, common...)...) }
	must := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("provena %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	secret := "SECRET-PLAINTEXT-MARKER-" + strings.Repeat("w,b,1-0\n", 60_000) // ~480 KB, 2 chunks
	in := filepath.Join(dir, "games.csv")
	os.WriteFile(in, []byte(secret), 0o600)
	var added dataAddOutput
	json.Unmarshal([]byte(must("data", "add", in, "--from", "alice", "--name", "match logs", "--licence", "CC-BY-4.0", "--price", "20",
		"--contributors", contrib, "--contributor-bps", "5000", "--json")), &added)
	if len(added.Asset) != 64 || added.Chunks != 2 {
		t.Fatalf("add: %+v", added)
	}
	id := added.Asset
	out := filepath.Join(dir, "out.csv")
	if _, err := cli("data", "get", id, "-o", out, "--from", "bob"); err == nil || !strings.Contains(err.Error(), "has no grant") {
		t.Fatalf("get without grant: %v", err)
	}
	if _, err := cli("data", "grant", id, "--to", "bob", "--from", "alice"); err == nil || !strings.Contains(err.Error(), "has not published a data key") {
		t.Fatalf("grant before bob's key: %v", err)
	}
	if _, err := cli("data", "grant", id, "--to", "alice", "--from", "bob"); err == nil || !strings.Contains(err.Error(), "has no grant") {
		t.Fatalf("grant by non-owner: %v", err)
	}
	must("data", "buy", id, "--from", "bob")
	must("data", "grant", id, "--to", "bob", "--from", "alice")

	// Contributors: the pool of version 1 holds 10 (50% of 20); carol has
	// 3 of 4 weight and claims 7; dave withdraws and is left out of v2.
	must("data", "claim", id, "--contributors", contrib, "--from", "carol")
	if _, err := cli("data", "claim", id, "--contributors", contrib, "--from", "carol"); err == nil || !strings.Contains(err.Error(), "nothing to claim") {
		t.Fatalf("double claim: %v", err)
	}
	if _, err := cli("data", "claim", id, "--contributors", contrib, "--from", "bob"); err == nil || !strings.Contains(err.Error(), "not in the contributors file") {
		t.Fatalf("claim by a stranger: %v", err)
	}
	must("data", "withdraw", id, "--contributors", contrib, "--from", "dave")

	// Corrupt chunk 0 on store 0 (asked first for chunk 0): the fetch
	// detects it and takes the chunk from store 1.
	root, _ := merkle.ParseHash(id)
	corruptStoredChunk(t, stores[0], root, 0)
	must("data", "get", id, "-o", out, "--from", "bob")
	if got, _ := os.ReadFile(out); string(got) != secret {
		t.Fatalf("bob got %d bytes, want %d", len(got), len(secret))
	}
	if st, _ := stores[0].Status(root); len(st.Missing) != 1 {
		t.Fatalf("corrupt chunk not detected on store 0: %+v", st)
	}

	// Revoke and rotate: version 2 is unreadable for bob; version 1, which
	// he already had, is not recalled.
	must("data", "revoke", id, "--to", "bob", "--from", "alice")
	in2 := filepath.Join(dir, "games2.csv")
	os.WriteFile(in2, []byte(secret+"new game\n"), 0o600)
	must("data", "update", id, in2, "--from", "alice", "--contributors", contrib)
	if _, err := cli("data", "get", id, "-o", out, "--from", "bob"); err == nil || !strings.Contains(err.Error(), "no grant for version 2") {
		t.Fatalf("revoked get: %v", err)
	}
	must("data", "get", id, "-o", out, "--from", "alice")
	if got, _ := os.ReadFile(out); !strings.HasSuffix(string(got), "new game\n") {
		t.Fatal("owner did not get version 2")
	}
	must("data", "get", id, "-o", out, "--from", "bob", "--version", "1")

	// An interrupted add resumes: the first run loses its connection after
	// one chunk, the second uploads the rest of the same blob and registers.
	fs0, _ := blob.Open(filepath.Join(dir, "flaky"))
	var puts, chunks, conns atomic.Int64
	flaky := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && puts.Add(1) == 2 {
			panic(http.ErrAbortHandler) // drop the connection
		}
		if r.Method == http.MethodPut {
			chunks.Add(putChunks(t, r))
		}
		blob.NewHandler(fs0).ServeHTTP(w, r)
	}))
	// A connection is counted until its serving goroutine is done, handler
	// included: once none is left, nothing of the dropped run can land.
	flaky.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			conns.Add(-1)
		}
	}
	flaky.Start()
	defer flaky.Close()
	in3 := filepath.Join(dir, "big.csv")
	os.WriteFile(in3, []byte(strings.Repeat("resumable upload\n", 300_000)), 0o600) // 20 chunks encrypted: 5 runs
	addFlaky := []string{"data", "add", in3, "--from", "alice", "--home", home, "--keyring-backend", "test", "--blob-nodes", flaky.URL, "--json"}
	if _, err := runCLI(addFlaky...); err == nil {
		t.Fatal("upload through a dropped connection succeeded")
	}
	pending, _ := filepath.Glob(filepath.Join(home, "data", "pending", "*", "upload.json"))
	if len(pending) != 1 {
		t.Fatalf("pending uploads: %v", pending)
	}
	if ct, _ := filepath.Glob(filepath.Join(home, "data", "pending", "*", "*.age*")); len(ct) != 1 || filepath.Base(ct[0]) != "key.age" {
		t.Fatalf("pending upload keeps more than its key: %v", ct)
	}
	// Chunks sent in parallel with the dropped one may still be landing in
	// the store after the client gave up (a request the server had not
	// started handling yet included): close the first run's connections and
	// let their goroutines end before counting what the resume must send.
	flaky.CloseClientConnections()
	for deadline := time.Now().Add(10 * time.Second); conns.Load() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("connections of the dropped upload still open after 10 s")
		}
	}
	var state pendingUpload
	sb, _ := os.ReadFile(pending[0])
	if err := json.Unmarshal(sb, &state); err != nil || state.Sessions[flaky.URL] == "" || state.Manifest != nil {
		t.Fatalf("pending state %s: %v", sb, err)
	}
	stFirst, err := fs0.SessionStatus(state.Sessions[flaky.URL])
	if err != nil || len(stFirst.Missing) == 0 {
		t.Fatalf("after the drop: %+v %v", stFirst, err)
	}
	chunksFirst := chunks.Load()
	outFlaky, err := runCLI(addFlaky...)
	if err != nil {
		t.Fatalf("resumed add: %v", err)
	}
	var resumed dataAddOutput
	json.Unmarshal([]byte(outFlaky), &resumed)
	rootF, _ := merkle.ParseHash(resumed.Asset)
	if st, err := fs0.Status(rootF); err != nil || !st.Complete {
		t.Fatalf("resumed blob %s: %+v %v", resumed.Asset, st, err)
	}
	if blobs, _ := filepath.Glob(filepath.Join(fs0.Dir(), "[0-9a-f]*")); len(blobs) != 1 {
		t.Fatalf("the resume made %d blobs in the store", len(blobs))
	}
	if got := chunks.Load() - chunksFirst; got != int64(len(stFirst.Missing)) {
		t.Fatalf("resume sent %d chunks, %d were missing", got, len(stFirst.Missing))
	}
	if left, _ := filepath.Glob(filepath.Join(home, "data", "pending", "*")); len(left) != 0 {
		t.Fatalf("pending upload not cleaned: %v", left)
	}

	var ls []app.AssetRecord
	json.Unmarshal([]byte(must("data", "ls", "--owner", "alice", "--json")), &ls)
	if len(ls) != 2 {
		t.Fatalf("ls: %+v", ls)
	}
	if ls[0].ID.String() != id {
		ls[0], ls[1] = ls[1], ls[0]
	}
	if ls[0].Versions != 2 || ls[0].Earned != 20 {
		t.Fatalf("ls: %+v", ls)
	}
	json.Unmarshal([]byte(must("data", "ls", "--owner", "bob", "--granted", "--json")), &ls)
	if len(ls) != 1 || ls[0].ID.String() != id {
		t.Fatalf("ls --granted: %+v", ls)
	}
	var show dataShowOutput
	json.Unmarshal([]byte(must("data", "show", id, "--json")), &show)
	if len(show.Versions) != 2 {
		t.Fatalf("show: %+v", show)
	}
	if v1 := show.Versions[0]; v1.Pool != 10 || v1.Claimed != 7 || show.Versions[1].ContributorCount != 1 {
		t.Fatalf("contributor pools: %+v %+v", v1, show.Versions[1])
	}
	if len(show.Versions) != 2 || len(show.Receipts) != 1 || show.Receipts[0].Payer != bob.Address || show.Asset.Grants[0].To != bob.Address {
		t.Fatalf("show: %+v", show)
	}
	if s := must("data", "show", id); !strings.Contains(s, "revoked") || !strings.Contains(s, "CC-BY-4.0") {
		t.Fatalf("show text:\n%s", s)
	}
	if _, err := cli("data", "show", strings.Repeat("0", 64)); err == nil || !strings.Contains(err.Error(), "unknown asset") {
		t.Fatalf("unknown asset: %v", err)
	}

	// Nodes only ever hold ciphertext: no file of the node's home or of a
	// blob store contains the plaintext marker.
	os.Remove(out)
	for _, d := range []string{home, stores[0].Dir(), stores[1].Dir()} {
		filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, _ := os.ReadFile(path)
			if bytes.Contains(b, []byte("SECRET-PLAINTEXT-MARKER")) {
				t.Errorf("plaintext found in %s", path)
			}
			return nil
		})
	}
}

// A fetch that cannot verify every chunk leaves no output file, not even a
// partial one.
func TestFetchDecryptNoPartialOutput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.WriteFile(in, bytes.Repeat([]byte("plaintext "), 80_000), 0o600) // 3 chunks encrypted
	s, err := blob.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(blob.NewHandler(s))
	defer srv.Close()
	e := &dataEnv{blobs: []string{srv.URL}}
	key, m, err := e.encryptUpload(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	v := &app.VersionRecord{Root: [32]byte(m.Root), Size: m.Size}
	out := filepath.Join(dir, "out")
	if n, err := fetchDecrypt(context.Background(), e.blobs, v, key, out); err != nil || n != 800_000 {
		t.Fatalf("fetch: %d %v", n, err)
	}
	os.Remove(out)
	// Corrupt the last chunk: the first two verify and stream into the
	// decryptor before the failure.
	corruptStoredChunk(t, s, m.Root, m.Chunks-1)
	if _, err := fetchDecrypt(context.Background(), e.blobs, v, key, out); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("fetch of a corrupt blob: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if en.Name() == "out" || strings.HasPrefix(en.Name(), ".provena-get") {
			t.Errorf("left %s behind", en.Name())
		}
	}
	// A wrong key fails too, also without output.
	other, _ := vault.NewAssetKey()
	s2, _ := blob.Open(filepath.Join(dir, "store2"))
	srv2 := httptest.NewServer(blob.NewHandler(s2))
	defer srv2.Close()
	e2 := &dataEnv{blobs: []string{srv2.URL}}
	_, m2, _ := e2.encryptUpload(context.Background(), in)
	if _, err := fetchDecrypt(context.Background(), e2.blobs, &app.VersionRecord{Root: [32]byte(m2.Root), Size: m2.Size}, other, out); err == nil {
		t.Fatal("wrong key decrypted")
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("wrong key left an output file")
	}
}

// corruptStoredChunk flips the last byte of chunk i in the store's data
// file (<store>/<root>/data, chunk i at i*blob.ChunkSize), as a failing
// disk would.
func corruptStoredChunk(t *testing.T, s *blob.Store, root merkle.Hash, i int) {
	t.Helper()
	m, err := s.Manifest(root)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(s.Dir(), root.String(), "data"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	off := int64(i)*blob.ChunkSize + int64(m.ChunkLen(i)) - 1
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// An add's upload survives interruptions without keeping the ciphertext:
// the run that fails keeps only the key and the upload's state, the next
// sends exactly the chunks the node lacks and the blob decrypts; once the
// blob is complete, a further run (registration failed) sends nothing. A
// file changed since the interrupted run (same size and time) is a clear
// error, its state removed and nothing committed.
func TestDataUploadResume(t *testing.T) {
	dir := t.TempDir()
	s, err := blob.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	var puts, chunks, failAt atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && puts.Add(1) == failAt.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"code":"internal","message":"down for a moment"}`))
			return
		}
		if r.Method == http.MethodPut {
			chunks.Add(putChunks(t, r))
		}
		blob.NewHandler(s).ServeHTTP(w, r)
	}))
	defer srv.Close()
	id, _ := vault.AccountIdentity(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)))
	// Two chunks per request, one request at a time: the second request
	// fails, so the first two chunks are stored.
	e := &dataEnv{f: &dataFlags{ledgerFlags: ledgerFlags{home: dir}}, blobs: []string{srv.URL}, id: id, bc: blob.Client{Parallel: 1, Run: 2}}
	in := filepath.Join(dir, "in")
	plain := bytes.Repeat([]byte("one pass, then resumed\n"), 60_000) // 6 chunks encrypted
	os.WriteFile(in, plain, 0o600)
	ctx := context.Background()

	failAt.Store(2)
	if _, _, _, err := e.encryptUploadResumable(ctx, in, io.Discard); err == nil {
		t.Fatal("upload through a failing node succeeded")
	}
	pdir, _ := e.pendingDir(in)
	files, _ := filepath.Glob(filepath.Join(pdir, "*"))
	if len(files) != 2 || filepath.Base(files[0]) != "key.age" || filepath.Base(files[1]) != "upload.json" {
		t.Fatalf("pending files: %v", files)
	}
	failAt.Store(0)
	before := chunks.Load()
	key, m, finish, err := e.encryptUploadResumable(ctx, in, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := chunks.Load() - before; got != int64(m.Chunks-2) {
		t.Fatalf("resume sent %d chunks, want %d of %d", got, m.Chunks-2, m.Chunks)
	}
	out := filepath.Join(dir, "out")
	v := &app.VersionRecord{Root: [32]byte(m.Root), Size: m.Size}
	if _, err := fetchDecrypt(ctx, e.blobs, v, key, out); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, plain) {
		t.Fatal("resumed upload decrypts to other bytes")
	}
	finish(false)
	before = puts.Load()
	if _, m2, finish, err := e.encryptUploadResumable(ctx, in, io.Discard); err != nil || m2 != m || puts.Load() != before {
		t.Fatalf("run after a complete upload: %+v, %d chunks sent, %v", m2, puts.Load()-before, err)
	} else {
		finish(true)
	}
	if _, err := os.Stat(pdir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("pending dir left: %v", err)
	}

	// Changed between the runs, keeping its size and time.
	fi, _ := os.Stat(in)
	failAt.Store(puts.Load() + 2)
	if _, _, _, err := e.encryptUploadResumable(ctx, in, io.Discard); err == nil {
		t.Fatal("upload through a failing node succeeded")
	}
	failAt.Store(0)
	changed := bytes.Clone(plain)
	changed[0] = 'O'
	os.WriteFile(in, changed, 0o600)
	os.Chtimes(in, fi.ModTime(), fi.ModTime())
	if _, _, _, err := e.encryptUploadResumable(ctx, in, io.Discard); !errors.Is(err, errPlainChanged) {
		t.Fatalf("changed file: %v", err)
	}
	if _, err := os.Stat(pdir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("state of a changed file kept: %v", err)
	}
	if blobs, _ := filepath.Glob(filepath.Join(s.Dir(), "[0-9a-f]*")); len(blobs) != 1 {
		t.Fatalf("%d blobs in the store, want 1", len(blobs))
	}
	// Run again, it uploads the file as it is now.
	key, m, finish, err = e.encryptUploadResumable(ctx, in, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	finish(true)
	v = &app.VersionRecord{Root: [32]byte(m.Root), Size: m.Size}
	if _, err := fetchDecrypt(ctx, e.blobs, v, key, out); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, changed) {
		t.Fatal("re-upload decrypts to other bytes")
	}

	// State left by a build of blob format 1 (SHA-256 leaves: a manifest
	// without "format") is refused with what to do, not resumed.
	failAt.Store(puts.Load() + 1)
	if _, _, _, err := e.encryptUploadResumable(ctx, in, io.Discard); err == nil {
		t.Fatal("upload through a failing node succeeded")
	}
	failAt.Store(0)
	statePath := filepath.Join(pdir, "upload.json")
	var state map[string]any
	sb, _ := os.ReadFile(statePath)
	if err := json.Unmarshal(sb, &state); err != nil {
		t.Fatal(err)
	}
	state["manifest"] = map[string]any{"root": m.Root.String(), "size": m.Size, "chunks": m.Chunks}
	sb, _ = json.Marshal(state)
	os.WriteFile(statePath, sb, 0o600)
	_, _, _, err = e.encryptUploadResumable(ctx, in, io.Discard)
	if !errors.Is(err, blob.ErrOldFormat) || !strings.Contains(err.Error(), "left by an earlier build") || !strings.Contains(err.Error(), "remove the directory") {
		t.Fatalf("pending state of format 1: %v", err)
	}
}

// putChunks is how many chunks a blob PUT carries: an upload session's
// ?count, else one.
func putChunks(t *testing.T, r *http.Request) int64 {
	c := r.URL.Query().Get("count")
	if c == "" {
		return 1
	}
	n, err := strconv.Atoi(c)
	if err != nil {
		t.Errorf("PUT %s: count %q", r.URL, c)
	}
	return int64(n)
}

// TestBenchDataSmall runs `bench data` on a 4 MiB file: every figure is
// there, the ratios are the throughputs over cp's, and the temporary files
// are gone. It asserts nothing about speed.
func TestBenchDataSmall(t *testing.T) {
	dir := t.TempDir()
	out, err := runCLI("bench", "data", "--size-mib", "4", "--dir", dir, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var r benchDataOutput
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report %q: %v", out, err)
	}
	if r.SizeMiB != 4 || r.CpMiBs <= 0 || r.UploadMiBs <= 0 || r.DownloadMiBs <= 0 || r.EncryptMiBs <= 0 {
		t.Fatalf("incomplete report %+v", r)
	}
	for _, c := range []struct {
		name       string
		ratio, got float64
	}{{"upload", r.UploadRatio, r.UploadMiBs / r.CpMiBs}, {"download", r.DownloadRatio, r.DownloadMiBs / r.CpMiBs}} {
		if d := c.ratio - c.got; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s ratio %v, want %v (its MiB/s over cp's)", c.name, c.ratio, c.got)
		}
	}
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("bench left %d entries in its directory, first %s", len(left), left[0].Name())
	}
}
