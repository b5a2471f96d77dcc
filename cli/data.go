package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/provena/provena/app"
	"github.com/provena/provena/blob"
	"github.com/provena/provena/client"
	"github.com/provena/provena/merkle"
	"github.com/provena/provena/node"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/vault"
)

func init() {
	commands = append(commands, newDataCmd)
	benchCommands = append(benchCommands, newBenchDataCmd)
}

// dataFlags are the flags of the data commands on top of ledgerFlags.
type dataFlags struct {
	ledgerFlags
	from    string
	rpc     string
	blobs   []string
	timeout time.Duration
}

func (f *dataFlags) add(cmd *cobra.Command, from bool) {
	f.addHome(cmd)
	f.addJSON(cmd)
	f.addNode(cmd)
	f.addKeyring(cmd)
	if from {
		cmd.Flags().StringVar(&f.from, "from", "", "name of the key in the keyring")
		cmd.MarkFlagRequired("from")
	}
	cmd.Flags().StringVar(&f.rpc, "rpc", "", "CometBFT RPC URL for ledger queries (default: the home's rpc laddr)")
	cmd.Flags().StringSliceVar(&f.blobs, "blob-nodes", nil, "blob store URLs, comma separated (default: the node's API URL)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 10*time.Minute, "give up after this long")
}

// dataEnv is what a data command works with.
type dataEnv struct {
	f     *dataFlags
	c     *client.Client
	rpc   string
	blobs []string
	priv  ed25519.PrivateKey
	me    tx.Address
	id    *age.X25519Identity
	fee   uint64
	// bc moves the chunks; its zero value scales with the CPUs.
	bc blob.Client
}

func (f *dataFlags) env(ctx context.Context, needKey bool) (*dataEnv, error) {
	c, err := f.client()
	if err != nil {
		return nil, err
	}
	e := &dataEnv{f: f, c: c, rpc: f.rpc, blobs: f.blobs}
	if e.rpc == "" {
		cfg, err := node.LoadConfig(f.home)
		if err != nil {
			return nil, fmt.Errorf("find the node's RPC (or pass --rpc URL): %w", err)
		}
		e.rpc = cfg.RPC.ListenAddress
	}
	e.rpc = strings.TrimRight(strings.Replace(e.rpc, "tcp://", "http://", 1), "/")
	if !strings.Contains(e.rpc, "://") {
		e.rpc = "http://" + e.rpc
	}
	if len(e.blobs) == 0 {
		e.blobs = []string{c.Base()}
	}
	if needKey {
		kr, err := f.keyring(false)
		if err != nil {
			return nil, err
		}
		if e.priv, err = kr.PrivateKey(f.from); err != nil {
			return nil, err
		}
		e.me = tx.AddressFromPubKey(e.priv.Public().(ed25519.PublicKey))
		if e.id, err = vault.AccountIdentity(e.priv); err != nil {
			return nil, err
		}
		p, err := c.Params(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the minimum fee: %w", err)
		}
		e.fee = p.MinFee
	}
	return e, nil
}

// query runs an ABCI query through CometBFT's RPC and decodes the JSON
// value into out.
func (e *dataEnv) query(ctx context.Context, path, data string, out any) error {
	u := e.rpc + "/abci_query?path=" + url.QueryEscape(strconv.Quote(path)) + "&data=0x" + hex.EncodeToString([]byte(data))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("query %s: %w", path, err)
	}
	defer resp.Body.Close()
	var r struct {
		Result struct {
			Response struct {
				Code  uint32 `json:"code"`
				Log   string `json:"log"`
				Value []byte `json:"value"`
			} `json:"response"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
			Data    string `json:"data"`
		} `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&r); err != nil {
		return fmt.Errorf("query %s: decode RPC answer: %w", path, err)
	}
	if r.Error != nil {
		return fmt.Errorf("query %s: %s %s", path, r.Error.Message, r.Error.Data)
	}
	if q := r.Result.Response; q.Code != 0 {
		return fmt.Errorf("query %s %s: code %d: %s", path, data, q.Code, q.Log)
	}
	if err := json.Unmarshal(r.Result.Response.Value, out); err != nil {
		return fmt.Errorf("query %s: decode value: %w", path, err)
	}
	return nil
}

func (e *dataEnv) send(ctx context.Context, msg tx.Msg) (client.Sent, error) {
	s, err := e.c.Send(ctx, e.priv, e.fee, msg, true)
	if err != nil {
		return s, fmt.Errorf("%s: %w", tx.MsgName(msg.Type()), err)
	}
	return s, nil
}

func (e *dataEnv) asset(ctx context.Context, id tx.DataHash) (*app.AssetRecord, error) {
	var r *app.AssetRecord
	if err := e.query(ctx, app.QueryDataAsset, id.String(), &r); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("unknown asset %s", id)
	}
	return r, nil
}

func (e *dataEnv) version(ctx context.Context, id tx.DataHash, v uint32) (*app.VersionRecord, error) {
	var r *app.VersionRecord
	if err := e.query(ctx, app.QueryDataVersion, fmt.Sprintf("%s/%d", id, v), &r); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("asset %s has no version %d", id, v)
	}
	return r, nil
}

// recipient returns the published data key of a.
func (e *dataEnv) recipient(ctx context.Context, a tx.Address) (*age.X25519Recipient, error) {
	var k app.DataKeyJSON
	if err := e.query(ctx, app.QueryDataRecipient, a.String(), &k); err != nil {
		return nil, err
	}
	if k.Recipient == "" {
		return nil, fmt.Errorf("%s has not published a data key; it must run `provena data key --from NAME` (or any data command) first", a)
	}
	return vault.ParseRecipient(k.Recipient)
}

// ensureKey publishes the sender's derived data key if the chain does not
// hold it yet.
func (e *dataEnv) ensureKey(ctx context.Context) error {
	var k app.DataKeyJSON
	if err := e.query(ctx, app.QueryDataRecipient, e.me.String(), &k); err != nil {
		return err
	}
	if k.Recipient == e.id.Recipient().String() {
		return nil
	}
	_, err := e.send(ctx, tx.MsgDataSetKey{Recipient: e.id.Recipient().String()})
	return err
}

// assetKey unwraps the asset key of version v wrapped to the sender.
func (e *dataEnv) assetKey(ctx context.Context, id tx.DataHash, v uint32) (*age.X25519Identity, error) {
	var w *app.WrappedKeyJSON
	if err := e.query(ctx, app.QueryDataWrapped, fmt.Sprintf("%s/%d/%s", id, v, e.me), &w); err != nil {
		return nil, err
	}
	if w == nil {
		return nil, fmt.Errorf("%s has no grant for version %d of asset %s: buy it with `provena data buy` and ask the owner to grant, or ask the owner", e.me, v, id)
	}
	return vault.UnwrapKey(w.Key, e.id)
}

// encryptUpload encrypts the file at path under a new asset key and
// uploads the ciphertext to every blob node in one pass (uploadPayload),
// returning the key and the manifest. Nothing is kept for a resume.
func (e *dataEnv) encryptUpload(ctx context.Context, path string) (*age.X25519Identity, blob.Manifest, error) {
	key, err := vault.NewAssetKey()
	if err != nil {
		return nil, blob.Manifest{}, err
	}
	p, err := vault.NewPayload(key)
	if err != nil {
		return nil, blob.Manifest{}, err
	}
	m, err := e.uploadPayload(ctx, path, p, &pendingUpload{}, func() error { return nil })
	if err != nil {
		return nil, blob.Manifest{}, err
	}
	return key, m, nil
}

// pendingUpload is what an add or update keeps in pendingDir until the
// asset is registered, beside the asset key wrapped to the sender
// (key.age): no ciphertext, only what makes encrypting the same file
// again give the same bytes, and where the upload got to.
type pendingUpload struct {
	// Head is the age header and payload nonce (vault.Payload.Head): the
	// ciphertext's first bytes, no secret; with the asset key it restores
	// the file key.
	Head []byte `json:"head"`
	// Sessions maps a blob node's URL to the upload session opened there.
	Sessions map[string]string `json:"sessions,omitempty"`
	// Manifest is set once the whole ciphertext was hashed.
	Manifest *blob.Manifest `json:"manifest,omitempty"`
}

// errPlainChanged: a resumed upload's file no longer encrypts to the blob
// the interrupted run started.
var errPlainChanged = errors.New("the file changed since the interrupted upload began")

// uploadPayload encrypts the file at path with p and uploads the
// ciphertext to every blob node without keeping it anywhere: encryption,
// chunking, hashing and sending are one pass into upload sessions
// (blob.Client.UploadSessions), committed with the manifest at the end.
// st says what an earlier, interrupted run did (save persists it): nodes
// that already hold the whole blob are skipped, open sessions resumed
// (only the chunks they lack are sent; the rest are re-encrypted, which
// gives the same bytes, and hashed). A file changed since is
// errPlainChanged: its chunks no longer make the blob, so a node refuses
// the commit and drops them.
func (e *dataEnv) uploadPayload(ctx context.Context, path string, p *vault.Payload, st *pendingUpload, save func() error) (blob.Manifest, error) {
	nodes := e.blobs
	if st.Manifest != nil {
		nodes = nil
		for _, n := range e.blobs {
			s, err := e.bc.Status(ctx, n, st.Manifest.Root)
			if err != nil || !s.Complete || s.Manifest != *st.Manifest {
				nodes = append(nodes, n)
			}
		}
		if len(nodes) == 0 {
			return *st.Manifest, nil
		}
	}
	in, err := os.Open(path)
	if err != nil {
		return blob.Manifest{}, err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return blob.Manifest{}, err
	}
	size := p.Size(fi.Size())
	if size > blob.MaxSize {
		return blob.Manifest{}, fmt.Errorf("%s is %d bytes; encrypted it would exceed the %d-byte blob limit", path, fi.Size(), blob.MaxSize)
	}
	ids := make([]string, len(nodes))
	for k, n := range nodes {
		ids[k] = st.Sessions[n]
	}
	sessions, err := e.bc.OpenSessions(ctx, nodes, ids, size)
	if err != nil {
		return blob.Manifest{}, fmt.Errorf("%w (run the command again to resume)", err)
	}
	if st.Sessions == nil {
		st.Sessions = map[string]string{}
	}
	for k, n := range nodes {
		st.Sessions[n] = sessions[k].Session
	}
	if err := save(); err != nil {
		return blob.Manifest{}, fmt.Errorf("keep the upload's state: %w", err)
	}
	m, _, err := e.bc.UploadSessions(ctx, nodes, sessions, func(w io.Writer) error {
		// Exactly the size announced: a file that grew or shrank since
		// is refused by the size check, not read past.
		if err := p.EncryptFile(w, in, fi.Size()); err != nil {
			return fmt.Errorf("encrypt %s: %w", path, err)
		}
		return nil
	})
	var be *blob.Error
	switch {
	case m.Chunks > 0 && st.Manifest != nil && m != *st.Manifest:
		return blob.Manifest{}, fmt.Errorf("%w: it now encrypts to blob %s, not %s", errPlainChanged, m.Root, st.Manifest.Root)
	case err != nil && errors.As(err, &be) && be.Code == "bad_proof":
		return blob.Manifest{}, fmt.Errorf("%w: %v", errPlainChanged, err)
	case m.Chunks > 0 && st.Manifest == nil:
		st.Manifest = &m
		if serr := save(); serr != nil && err == nil {
			err = fmt.Errorf("keep the upload's state: %w", serr)
		}
	}
	if err != nil {
		return blob.Manifest{}, fmt.Errorf("%w (run the command again to resume)", err)
	}
	return m, nil
}

// pendingDir is where an add or update of the file at path keeps its
// asset key (wrapped to the sender) and pendingUpload until the asset is
// registered, so that running the command again after an interruption
// re-encrypts to the same blob and sends only the chunks a node lacks.
func (e *dataEnv) pendingDir(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d\x00%s", abs, fi.Size(), fi.ModTime().UnixNano(), e.me))
	return filepath.Join(e.f.home, "data", "pending", hex.EncodeToString(h[:16])), nil
}

// encryptUploadResumable is encryptUpload that survives interruptions:
// before anything is sent, pendingDir gets the upload's state
// (upload.json: the ciphertext's head, then the sessions) and the asset
// key wrapped to the sender (key.age, written once the head is there). On
// any failure, before or after registration, finish(false) leaves them
// and the next run with the same file picks them up; finish(true) removes
// them. A file changed since the first run is an error, and its state is
// removed (its key must not encrypt a second plaintext).
func (e *dataEnv) encryptUploadResumable(ctx context.Context, path string, log io.Writer) (key *age.X25519Identity, m blob.Manifest, finish func(ok bool), err error) {
	dir, err := e.pendingDir(path)
	if err != nil {
		return nil, blob.Manifest{}, nil, err
	}
	statePath, keyPath := filepath.Join(dir, "upload.json"), filepath.Join(dir, "key.age")
	var (
		st pendingUpload
		p  *vault.Payload
	)
	if wrapped, rerr := os.ReadFile(keyPath); rerr == nil {
		if key, err = vault.UnwrapKey(wrapped, e.id); err != nil {
			return nil, blob.Manifest{}, nil, fmt.Errorf("pending upload in %s: %w", dir, err)
		}
		sb, err := os.ReadFile(statePath)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, blob.Manifest{}, nil, fmt.Errorf("pending upload in %s was left by an earlier build (a kept ciphertext, blob.age); remove the directory and run the command again", dir)
		}
		if err == nil {
			err = json.Unmarshal(sb, &st)
		}
		if errors.Is(err, blob.ErrOldFormat) {
			return nil, blob.Manifest{}, nil, fmt.Errorf("pending upload in %s was left by an earlier build (%w); remove the directory and run the command again", dir, err)
		}
		if err == nil {
			p, err = vault.ParsePayload(st.Head, key)
		}
		if err != nil {
			return nil, blob.Manifest{}, nil, fmt.Errorf("pending upload in %s: %w", dir, err)
		}
		fmt.Fprintf(log, "resuming the interrupted upload kept in %s\n", dir)
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, blob.Manifest{}, nil, err
		}
		if key, err = vault.NewAssetKey(); err != nil {
			return nil, blob.Manifest{}, nil, err
		}
		if p, err = vault.NewPayload(key); err != nil {
			return nil, blob.Manifest{}, nil, err
		}
		st.Head = p.Head()
		sb, _ := json.Marshal(st)
		w, err := vault.WrapKey(key, e.id.Recipient())
		if err == nil {
			err = writeFileAtomic(statePath, sb)
		}
		if err == nil {
			err = writeFileAtomic(keyPath, w)
		}
		if err != nil {
			return nil, blob.Manifest{}, nil, fmt.Errorf("keep the upload's state in %s: %w", dir, err)
		}
	}
	finish = func(ok bool) {
		if ok {
			os.RemoveAll(dir)
			return
		}
		fmt.Fprintf(log, "kept the upload's state in %s: run the same command again to resume\n", dir)
	}
	save := func() error {
		sb, _ := json.Marshal(st)
		return writeFileAtomic(statePath, sb)
	}
	if m, err = e.uploadPayload(ctx, path, p, &st, save); err != nil {
		if errors.Is(err, errPlainChanged) {
			os.RemoveAll(dir)
			return nil, blob.Manifest{}, nil, fmt.Errorf("%w; its upload state was removed, run the command again to upload the file as it is now", err)
		}
		finish(false)
		return nil, blob.Manifest{}, nil, err
	}
	return key, m, finish, nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// contributorFile is a contributors list: [{"address": "pv…", "weight": n}].
// The owner publishes it beside the asset; each contributor proves its
// line of it against the root on chain.
type contributorFile []struct {
	Address tx.Address `json:"address"`
	Weight  uint64     `json:"weight"`
}

type contributors struct {
	list  contributorFile
	tree  *merkle.Tree
	total uint64
}

func loadContributors(path string) (*contributors, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c contributors
	if err := json.Unmarshal(b, &c.list); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return c.build()
}

func (c *contributors) build() (*contributors, error) {
	if len(c.list) == 0 {
		return nil, errors.New("contributors list is empty")
	}
	seen := map[tx.Address]bool{}
	leaves := make([]merkle.Hash, len(c.list))
	c.total = 0
	for i, e := range c.list {
		if e.Weight == 0 {
			return nil, fmt.Errorf("contributor %s has weight 0", e.Address)
		}
		if seen[e.Address] {
			return nil, fmt.Errorf("contributor %s is listed twice", e.Address)
		}
		seen[e.Address] = true
		if c.total+e.Weight < c.total {
			return nil, errors.New("contributor weights overflow")
		}
		c.total += e.Weight
		leaves[i] = merkle.LeafHash(tx.ContributorLeaf(e.Address, e.Weight))
	}
	var err error
	c.tree, err = merkle.New(leaves)
	return c, err
}

// without drops the contributors for which drop returns true.
func (c *contributors) without(drop func(tx.Address) (bool, error)) (*contributors, []tx.Address, error) {
	out := &contributors{}
	var dropped []tx.Address
	for _, e := range c.list {
		d, err := drop(e.Address)
		if err != nil {
			return nil, nil, err
		}
		if d {
			dropped = append(dropped, e.Address)
		} else {
			out.list = append(out.list, e)
		}
	}
	if len(out.list) == 0 {
		return nil, dropped, nil
	}
	out, err := out.build()
	return out, dropped, err
}

func (c *contributors) set(v *tx.DataVersion) {
	if c == nil {
		return
	}
	v.Contributors = tx.DataHash(c.tree.Root())
	v.ContributorCount = uint64(len(c.list))
	v.ContributorWeight = c.total
}

// proof opens a's leaf, checked against the version's root on chain.
func (c *contributors) proof(a tx.Address, v *app.VersionRecord) (tx.ContributorProof, error) {
	if tx.DataHash(c.tree.Root()) != v.Contributors {
		return tx.ContributorProof{}, fmt.Errorf("the contributors file has root %s, version %d of the asset has %s", c.tree.Root(), v.Version, v.Contributors)
	}
	for i, e := range c.list {
		if e.Address == a {
			p, err := c.tree.Prove(i)
			if err != nil {
				return tx.ContributorProof{}, err
			}
			cp := tx.ContributorProof{Version: v.Version, Index: uint64(i), Weight: e.Weight, Proof: []tx.DataHash{}}
			for _, h := range p {
				cp.Proof = append(cp.Proof, tx.DataHash(h))
			}
			return cp, nil
		}
	}
	return tx.ContributorProof{}, fmt.Errorf("%s is not in the contributors file", a)
}

// assetVersion resolves an ASSET argument and a --version flag (0: the
// latest) to the asset id, the version number and its record.
func (e *dataEnv) assetVersion(ctx context.Context, arg string, version uint32) (tx.DataHash, uint32, *app.VersionRecord, error) {
	id, err := parseAssetID(arg)
	if err != nil {
		return id, 0, nil, err
	}
	if version == 0 {
		r, err := e.asset(ctx, id)
		if err != nil {
			return id, 0, nil, err
		}
		version = r.Versions
	}
	v, err := e.version(ctx, id, version)
	return id, version, v, err
}

func parseAssetID(s string) (tx.DataHash, error) {
	id, err := tx.ParseDataHash(strings.ToLower(s))
	if err != nil {
		return id, fmt.Errorf("asset id: %w", err)
	}
	return id, nil
}

func newDataCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Encrypted data assets: add, grant, revoke, buy, get, list (see docs/data.md)",
	}
	cmd.AddCommand(newDataKeyCmd(), newDataAddCmd(), newDataUpdateCmd(), newDataGrantCmd(), newDataRevokeCmd(),
		newDataBuyCmd(), newDataGetCmd(), newDataLsCmd(), newDataShowCmd(), newDataReplicateCmd(),
		newDataContributorCmd("claim", "Claim --from's share of a version's contributor pool", false),
		newDataContributorCmd("withdraw", "Withdraw --from's consent as a contributor: no earnings after this block, left out of later versions", true))
	return cmd
}

// dataRun wraps a data command body with its timeout and environment.
func dataRun(f *dataFlags, needKey bool, run func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
		defer cancel()
		e, err := f.env(ctx, needKey)
		if err != nil {
			return err
		}
		return run(ctx, e, cmd, args)
	}
}

func newDataKeyCmd() *cobra.Command {
	f := &dataFlags{}
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Publish the account's data key (derived from its ed25519 key) so others can grant to it",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = dataRun(f, true, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, _ []string) error {
		if err := e.ensureKey(ctx); err != nil {
			return err
		}
		out := map[string]string{"address": e.me.String(), "recipient": e.id.Recipient().String()}
		return emit(cmd.OutOrStdout(), f.json, out, func(w io.Writer) {
			fmt.Fprintf(w, "data key of %s: %s (on chain)\n", e.me, out["recipient"])
		})
	})
	f.add(cmd, true)
	return cmd
}

type dataAddOutput struct {
	Asset   string `json:"asset"`
	Version uint32 `json:"version"`
	Size    int64  `json:"size"`
	Chunks  int    `json:"chunks"`
	Tx      string `json:"tx"`
	Height  int64  `json:"height"`
}

func newDataAddCmd() *cobra.Command {
	f := &dataFlags{}
	var (
		name, licence string
		price         uint64
		contribPath   string
		contribBps    uint32
	)
	cmd := &cobra.Command{
		Use:   "add FILE",
		Short: "Encrypt FILE, upload its chunks and register it as an asset owned by --from",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = dataRun(f, true, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
		if name == "" {
			name = filepath.Base(args[0])
		}
		if (contribPath == "") != (contribBps == 0) {
			return errors.New("--contributors and --contributor-bps go together")
		}
		if err := e.ensureKey(ctx); err != nil {
			return err
		}
		key, m, finish, err := e.encryptUploadResumable(ctx, args[0], cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		ok := false
		defer func() { finish(ok) }()
		w, err := vault.WrapKey(key, e.id.Recipient())
		if err != nil {
			return err
		}
		msg := tx.MsgDataRegister{Name: name, Licence: licence, Price: price, ContributorBps: contribBps,
			Version: tx.DataVersion{Root: tx.DataHash(m.Root), Size: m.Size, Keys: []tx.WrappedKey{{To: e.me, Key: w}}}}
		if contribPath != "" {
			cs, err := loadContributors(contribPath)
			if err != nil {
				return err
			}
			cs.set(&msg.Version)
		}
		if err := msg.ValidateBasic(); err != nil {
			return err
		}
		s, err := e.send(ctx, msg)
		if err != nil {
			return err
		}
		ok = true
		out := dataAddOutput{Asset: m.Root.String(), Version: 1, Size: m.Size, Chunks: m.Chunks, Tx: s.Hash, Height: s.Committed.Height}
		return emit(cmd.OutOrStdout(), f.json, out, func(w io.Writer) {
			fmt.Fprintf(w, "asset %s registered in block %d (%d encrypted bytes, %d chunks)\n", out.Asset, out.Height, out.Size, out.Chunks)
		})
	})
	f.add(cmd, true)
	cmd.Flags().StringVar(&name, "name", "", "asset name (default: the file name)")
	cmd.Flags().StringVar(&licence, "licence", "proprietary", "licence (an SPDX id or a URL)")
	cmd.Flags().Uint64Var(&price, "price", 0, "price of access in upv")
	cmd.Flags().StringVar(&contribPath, "contributors", "", `contributors JSON file: [{"address": "pv…", "weight": n}, …]`)
	cmd.Flags().Uint32Var(&contribBps, "contributor-bps", 0, "share of every payment for the contributors, in basis points")
	return cmd
}

func newDataUpdateCmd() *cobra.Command {
	f := &dataFlags{}
	var contribPath string
	cmd := &cobra.Command{
		Use:   "update ASSET FILE",
		Short: "Publish FILE as the asset's next version under a new key, readable by the owner and active grantees only",
		Args:  cobra.ExactArgs(2),
	}
	cmd.RunE = dataRun(f, true, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
		id, err := parseAssetID(args[0])
		if err != nil {
			return err
		}
		r, err := e.asset(ctx, id)
		if err != nil {
			return err
		}
		if r.Owner != e.me {
			return fmt.Errorf("%s is not the owner of asset %s (owner is %s)", e.me, id, r.Owner)
		}
		readers := []tx.Address{e.me}
		for _, g := range r.Grants {
			if g.State == app.GrantActive {
				readers = append(readers, g.To)
			}
		}
		recips := make([]*age.X25519Recipient, len(readers))
		for i, a := range readers {
			if recips[i], err = e.recipient(ctx, a); err != nil {
				return err
			}
		}
		key, m, finish, err := e.encryptUploadResumable(ctx, args[1], cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		ok := false
		defer func() { finish(ok) }()
		var keys []tx.WrappedKey
		for i, a := range readers {
			w, err := vault.WrapKey(key, recips[i])
			if err != nil {
				return err
			}
			keys = append(keys, tx.WrappedKey{To: a, Key: w})
		}
		sortWrapped(keys)
		ver := tx.DataVersion{Root: tx.DataHash(m.Root), Size: m.Size, Keys: keys}
		if contribPath != "" {
			cs, err := loadContributors(contribPath)
			if err != nil {
				return err
			}
			// Contributors who withdrew consent are left out.
			cs, dropped, err := cs.without(func(a tx.Address) (bool, error) {
				var w *app.Withdrawal
				err := e.query(ctx, app.QueryDataWithdrawal, id.String()+"/"+a.String(), &w)
				return w != nil, err
			})
			if err != nil {
				return err
			}
			for _, a := range dropped {
				fmt.Fprintf(cmd.ErrOrStderr(), "left out %s: withdrew consent\n", a)
			}
			cs.set(&ver)
		}
		s, err := e.send(ctx, tx.MsgDataAddVersion{Asset: id, Version: ver})
		if err != nil {
			return err
		}
		ok = true
		out := dataAddOutput{Asset: id.String(), Version: r.Versions + 1, Size: m.Size, Chunks: m.Chunks, Tx: s.Hash, Height: s.Committed.Height}
		return emit(cmd.OutOrStdout(), f.json, out, func(w io.Writer) {
			fmt.Fprintf(w, "asset %s version %d (blob %s) readable by %d accounts, block %d\n", out.Asset, out.Version, m.Root, len(keys), out.Height)
		})
	})
	f.add(cmd, true)
	cmd.Flags().StringVar(&contribPath, "contributors", "", "contributors JSON file of the new version (withdrawn ones are dropped)")
	return cmd
}

func sortWrapped(ks []tx.WrappedKey) {
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && bytes.Compare(ks[j-1].To[:], ks[j].To[:]) > 0; j-- {
			ks[j-1], ks[j] = ks[j], ks[j-1]
		}
	}
}

type dataTxOutput struct {
	Action string `json:"action"`
	Asset  string `json:"asset"`
	To     string `json:"to,omitempty"`
	Tx     string `json:"tx"`
	Height int64  `json:"height"`
}

func printTx(cmd *cobra.Command, f *dataFlags, out dataTxOutput) error {
	return emit(cmd.OutOrStdout(), f.json, out, func(w io.Writer) {
		fmt.Fprintf(w, "%s %s %s: committed in block %d (tx %s)\n", out.Action, out.Asset, out.To, out.Height, short(out.Tx))
	})
}

func newDataGrantCmd() *cobra.Command {
	f := &dataFlags{}
	var to string
	cmd := &cobra.Command{
		Use:   "grant ASSET",
		Short: "Give --to the current version's key (releases a purchase's escrow to the owner)",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = dataRun(f, true, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
		id, err := parseAssetID(args[0])
		if err != nil {
			return err
		}
		toAddr, err := f.resolveAddress(to)
		if err != nil {
			return err
		}
		r, err := e.asset(ctx, id)
		if err != nil {
			return err
		}
		key, err := e.assetKey(ctx, id, r.Versions)
		if err != nil {
			return err
		}
		rc, err := e.recipient(ctx, toAddr)
		if err != nil {
			return err
		}
		w, err := vault.WrapKey(key, rc)
		if err != nil {
			return err
		}
		s, err := e.send(ctx, tx.MsgDataGrant{Asset: id, To: toAddr, Key: w})
		if err != nil {
			return err
		}
		return printTx(cmd, f, dataTxOutput{Action: "grant", Asset: id.String(), To: toAddr.String(), Tx: s.Hash, Height: s.Committed.Height})
	})
	f.add(cmd, true)
	cmd.Flags().StringVar(&to, "to", "", "grantee address (pv…) or key name")
	cmd.MarkFlagRequired("to")
	return cmd
}

func newDataRevokeCmd() *cobra.Command {
	f := &dataFlags{}
	var to string
	cmd := &cobra.Command{
		Use:   "revoke ASSET",
		Short: "Revoke --to's grant (or, as the buyer, cancel your pending purchase); run `data update` to rotate the key",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = dataRun(f, true, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
		id, err := parseAssetID(args[0])
		if err != nil {
			return err
		}
		toAddr := e.me
		if to != "" {
			if toAddr, err = f.resolveAddress(to); err != nil {
				return err
			}
		}
		s, err := e.send(ctx, tx.MsgDataRevoke{Asset: id, Grantee: toAddr})
		if err != nil {
			return err
		}
		return printTx(cmd, f, dataTxOutput{Action: "revoke", Asset: id.String(), To: toAddr.String(), Tx: s.Hash, Height: s.Committed.Height})
	})
	f.add(cmd, true)
	cmd.Flags().StringVar(&to, "to", "", "grantee address (pv…) or key name (default: --from, to cancel a purchase)")
	return cmd
}

func newDataBuyCmd() *cobra.Command {
	f := &dataFlags{}
	cmd := &cobra.Command{
		Use:   "buy ASSET",
		Short: "Pay the asset's price into escrow; the owner's grant releases it",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = dataRun(f, true, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
		id, err := parseAssetID(args[0])
		if err != nil {
			return err
		}
		r, err := e.asset(ctx, id)
		if err != nil {
			return err
		}
		if err := e.ensureKey(ctx); err != nil {
			return err
		}
		s, err := e.send(ctx, tx.MsgDataBuy{Asset: id, MaxPrice: r.Price})
		if err != nil {
			return err
		}
		return printTx(cmd, f, dataTxOutput{Action: "buy", Asset: id.String(), To: e.me.String(), Tx: s.Hash, Height: s.Committed.Height})
	})
	f.add(cmd, true)
	return cmd
}

type dataGetOutput struct {
	Asset   string `json:"asset"`
	Version uint32 `json:"version"`
	Blob    string `json:"blob"`
	Out     string `json:"out"`
	Bytes   int64  `json:"bytes"`
}

type dataReplicateOutput struct {
	Asset   string         `json:"asset"`
	Version uint32         `json:"version"`
	Blob    string         `json:"blob"`
	Sent    map[string]int `json:"chunks_sent"`
}

func newDataReplicateCmd() *cobra.Command {
	f := &dataFlags{}
	var version uint32
	cmd := &cobra.Command{
		Use:   "replicate ASSET --blob-nodes URL,URL,...",
		Short: "Make every --blob-nodes node hold a version's whole blob: chunks a node lacks are fetched from the others, checked against the root on the ledger, and sent to it",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = dataRun(f, false, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
		id, version, v, err := e.assetVersion(ctx, args[0], version)
		if err != nil {
			return err
		}
		if len(e.blobs) < 2 {
			return fmt.Errorf("replicate needs at least two --blob-nodes, got %d", len(e.blobs))
		}
		m := blob.Manifest{Root: merkle.Hash(v.Root), Size: v.Size, Chunks: blob.NumChunks(v.Size)}
		bc := blob.Client{Parallel: 4}
		sent, rerr := bc.Replicate(ctx, m, e.blobs)
		o := dataReplicateOutput{Asset: id.String(), Version: version, Blob: v.Root.String(), Sent: map[string]int{}}
		for i, n := range e.blobs {
			o.Sent[n] = sent[i]
		}
		if err := emit(cmd.OutOrStdout(), f.json, o, func(w io.Writer) {
			for i, n := range e.blobs {
				fmt.Fprintf(w, "%s: sent %d chunks\n", n, sent[i])
			}
		}); err != nil {
			return err
		}
		return rerr
	})
	f.add(cmd, false)
	cmd.Flags().Uint32Var(&version, "version", 0, "version to replicate (default: the latest)")
	return cmd
}

func newDataGetCmd() *cobra.Command {
	f := &dataFlags{}
	var (
		out     string
		version uint32
	)
	cmd := &cobra.Command{
		Use:   "get ASSET",
		Short: "Fetch an asset's chunks (every proof checked), decrypt with --from's grant, write -o",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = dataRun(f, true, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
		id, version, v, err := e.assetVersion(ctx, args[0], version)
		if err != nil {
			return err
		}
		key, err := e.assetKey(ctx, id, version)
		if err != nil {
			return err
		}
		n, err := fetchDecrypt(ctx, e.blobs, v, key, out)
		if err != nil {
			return err
		}
		o := dataGetOutput{Asset: id.String(), Version: version, Blob: v.Root.String(), Out: out, Bytes: n}
		return emit(cmd.OutOrStdout(), f.json, o, func(w io.Writer) {
			fmt.Fprintf(w, "asset %s version %d: %d bytes decrypted to %s\n", o.Asset, o.Version, o.Bytes, o.Out)
		})
	})
	f.add(cmd, true)
	cmd.Flags().StringVarP(&out, "out", "o", "", "output file")
	cmd.MarkFlagRequired("out")
	cmd.Flags().Uint32Var(&version, "version", 0, "version to get (default: the latest)")
	return cmd
}

// fetchDecrypt streams version v's verified chunks into the decryptor and
// the plaintext into a temporary file beside out, renamed to out only when
// every chunk verified and age authenticated the whole stream, so out never
// holds partial or unauthenticated plaintext.
func fetchDecrypt(ctx context.Context, nodes []string, v *app.VersionRecord, key *age.X25519Identity, out string) (int64, error) {
	return fetchDecryptWith(ctx, blob.Client{}, nodes, v, key, out)
}

// fetchDecryptWith is fetchDecrypt with bc's settings.
func fetchDecryptWith(ctx context.Context, bc blob.Client, nodes []string, v *app.VersionRecord, key *age.X25519Identity, out string) (int64, error) {
	m := blob.Manifest{Root: merkle.Hash(v.Root), Size: v.Size, Chunks: blob.NumChunks(v.Size)}
	pt, err := os.CreateTemp(filepath.Dir(out), ".provena-get-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(pt.Name())
	defer pt.Close()
	// The plaintext is shorter than the ciphertext: allocate that much and
	// cut it to length at the end: writing into allocated blocks costs
	// ext4 less than growing the file (blob.Preallocate).
	if err := blob.Preallocate(pt, m.Size); err != nil {
		return 0, fmt.Errorf("write %s: %w", pt.Name(), err)
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fetched := make(chan error, 1)
	go func() {
		err := bc.FetchManifest(ctx, m, nodes, pw)
		pw.CloseWithError(err)
		fetched <- err
	}()
	derr := vault.Decrypt(pt, pr, key)
	pr.CloseWithError(errors.New("decryption stopped"))
	if ferr := <-fetched; ferr != nil {
		return 0, ferr
	}
	if derr != nil {
		return 0, derr
	}
	n, err := pt.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if err := pt.Truncate(n); err != nil {
		return 0, err
	}
	if err := pt.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(pt.Name(), out); err != nil {
		return 0, err
	}
	return n, nil
}

func newDataContributorCmd(use, short string, withdraw bool) *cobra.Command {
	f := &dataFlags{}
	var (
		contribPath string
		version     uint32
	)
	cmd := &cobra.Command{
		Use:   use + " ASSET",
		Short: short,
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = dataRun(f, true, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
		id, err := parseAssetID(args[0])
		if err != nil {
			return err
		}
		r, err := e.asset(ctx, id)
		if err != nil {
			return err
		}
		if version == 0 || withdraw {
			version = r.Versions
		}
		v, err := e.version(ctx, id, version)
		if err != nil {
			return err
		}
		cs, err := loadContributors(contribPath)
		if err != nil {
			return err
		}
		p, err := cs.proof(e.me, v)
		if err != nil {
			return err
		}
		var msg tx.Msg = tx.MsgDataClaim{Asset: id, Leaf: p}
		if withdraw {
			msg = tx.MsgDataWithdrawConsent{Asset: id, Leaf: p}
		}
		s, err := e.send(ctx, msg)
		if err != nil {
			return err
		}
		return printTx(cmd, f, dataTxOutput{Action: use, Asset: id.String(), To: e.me.String(), Tx: s.Hash, Height: s.Committed.Height})
	})
	f.add(cmd, true)
	cmd.Flags().StringVar(&contribPath, "contributors", "", "the version's contributors JSON file (from the owner)")
	cmd.MarkFlagRequired("contributors")
	if !withdraw {
		cmd.Flags().Uint32Var(&version, "version", 0, "version whose pool to claim from (default: the latest)")
	}
	return cmd
}

func newDataLsCmd() *cobra.Command {
	f := &dataFlags{}
	var (
		owner   string
		granted bool
	)
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the assets of --owner (default: every key in the keyring); --granted lists what they were granted or bought",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = dataRun(f, false, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, _ []string) error {
		var owners []tx.Address
		if owner != "" {
			a, err := f.resolveAddress(owner)
			if err != nil {
				return err
			}
			owners = append(owners, a)
		} else {
			kr, err := f.keyring(false)
			if err != nil {
				return err
			}
			ks, err := kr.List()
			if err != nil {
				return err
			}
			for _, k := range ks {
				owners = append(owners, k.Address)
			}
		}
		var assets []*app.AssetRecord
		for _, o := range owners {
			var idx app.OwnerIndex
			path := app.QueryDataOwner
			if granted {
				path = app.QueryDataGranted
			}
			if err := e.query(ctx, path, o.String(), &idx); err != nil {
				return err
			}
			for _, id := range idx.Assets {
				r, err := e.asset(ctx, id)
				if err != nil {
					return err
				}
				assets = append(assets, r)
			}
		}
		if assets == nil {
			assets = []*app.AssetRecord{}
		}
		return emit(cmd.OutOrStdout(), f.json, assets, func(w io.Writer) {
			if len(assets) == 0 {
				fmt.Fprintln(w, "no assets")
			}
			for _, r := range assets {
				fmt.Fprintf(w, "%s  %-24q owner %s  v%d  price %s  grants %d  earned %s\n", r.ID, r.Name, r.Owner, r.Versions, upv(r.Price), len(r.Grants), upv(r.Earned))
			}
		})
	})
	f.add(cmd, false)
	cmd.Flags().StringVar(&owner, "owner", "", "owner address (pv…) or key name")
	cmd.Flags().BoolVar(&granted, "granted", false, "list the assets granted to (or bought by) the account instead of those it owns")
	return cmd
}

type dataShowOutput struct {
	Asset    *app.AssetRecord     `json:"asset"`
	Versions []*app.VersionRecord `json:"versions"`
	Receipts []app.Receipt        `json:"receipts"`
}

func newDataShowCmd() *cobra.Command {
	f := &dataFlags{}
	var maxReceipts uint64
	cmd := &cobra.Command{
		Use:   "show ASSET",
		Short: "Show an asset: owner, versions, grants, earnings and its latest receipts",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = dataRun(f, false, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
		id, err := parseAssetID(args[0])
		if err != nil {
			return err
		}
		r, err := e.asset(ctx, id)
		if err != nil {
			return err
		}
		out := dataShowOutput{Asset: r, Receipts: []app.Receipt{}}
		for v := uint32(1); v <= r.Versions; v++ {
			vr, err := e.version(ctx, id, v)
			if err != nil {
				return err
			}
			out.Versions = append(out.Versions, vr)
		}
		for s := r.Receipts; s > 0 && r.Receipts-s < maxReceipts; s-- {
			var rec app.Receipt
			if err := e.query(ctx, app.QueryDataReceipt, fmt.Sprintf("%s/%d", id, s), &rec); err != nil {
				return err
			}
			out.Receipts = append(out.Receipts, rec)
		}
		return emit(cmd.OutOrStdout(), f.json, out, func(w io.Writer) {
			fmt.Fprintf(w, "asset    %s\nname     %s\nlicence  %s\nowner    %s\nprice    %s\nearned   %s (owner %s, contributors %s)\n",
				r.ID, r.Name, r.Licence, r.Owner, upv(r.Price), upv(r.Earned), upv(r.ToOwner), upv(r.ToContributors))
			for _, v := range out.Versions {
				fmt.Fprintf(w, "version  %d  blob %s  %d bytes  readers %d  block %d\n", v.Version, v.Root, v.Size, len(v.Readers), v.Height)
			}
			for _, g := range r.Grants {
				fmt.Fprintf(w, "grant    %s  %s  version %d  escrow %s\n", g.To, g.State, g.Version, upv(g.Escrow))
			}
			for _, rec := range out.Receipts {
				fmt.Fprintf(w, "receipt  #%d %s %s payer %s amount %s (owner %s, contributors %s) block %d\n",
					rec.Seq, rec.Kind, rec.Job, rec.Payer, upv(rec.Amount), upv(rec.ToOwner), upv(rec.ToContributors), rec.Height)
			}
		})
	})
	f.add(cmd, false)
	cmd.Flags().Uint64Var(&maxReceipts, "receipts", 20, "how many of the latest receipts to show")
	return cmd
}

type benchDataOutput struct {
	SizeMiB      int     `json:"size_mib"`
	Parallel     int     `json:"parallel"`
	Run          int     `json:"run"`
	CpMiBs       float64 `json:"cp_mib_s"`
	UploadMiBs   float64 `json:"upload_mib_s"`
	DownloadMiBs float64 `json:"download_mib_s"`
	// Encryption and hashing alone, measured apart from the upload.
	EncryptMiBs float64 `json:"encrypt_mib_s"`
	// CPU time (user + system, every thread) per plaintext byte, in ns:
	// what each direction costs whatever else the machine runs, where the
	// MiB/s figures depend on the CPUs left free.
	CpCPUNsB       float64 `json:"cp_cpu_ns_per_byte"`
	UploadCPUNsB   float64 `json:"upload_cpu_ns_per_byte"`
	DownloadCPUNsB float64 `json:"download_cpu_ns_per_byte"`
	// Each run's throughput; the figures above are the fastest run's.
	CpRuns        []float64 `json:"cp_runs_mib_s"`
	UploadRuns    []float64 `json:"upload_runs_mib_s"`
	DownloadRuns  []float64 `json:"download_runs_mib_s"`
	UploadRatio   float64   `json:"upload_vs_cp"`
	DownloadRatio float64   `json:"download_vs_cp"`
	// Peak resident memory of the process (client and store) in each
	// direction, in bytes; 0 where it cannot be measured.
	UploadPeakRSS   int64 `json:"upload_peak_rss_bytes"`
	DownloadPeakRSS int64 `json:"download_peak_rss_bytes"`
}

func newBenchDataCmd() *cobra.Command {
	var (
		sizeMiB    int
		dir        string
		asJSON     bool
		cpuprofile string
		parallel   int
		run        int
		runs       int
	)
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Encrypted upload and download throughput of a blob store on loopback, against cp of the same file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sizeMiB <= 0 || int64(sizeMiB)<<20 > blob.MaxSize {
				return fmt.Errorf("--size-mib must be 1..%d", blob.MaxSize>>20)
			}
			work, err := os.MkdirTemp(dir, "provena-bench-data-*")
			if err != nil {
				return err
			}
			defer os.RemoveAll(work)
			if cpuprofile != "" {
				pf, err := os.Create(cpuprofile)
				if err != nil {
					return fmt.Errorf("bench data: %w", err)
				}
				defer pf.Close()
				if err := pprof.StartCPUProfile(pf); err != nil {
					return fmt.Errorf("bench data: cpu profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			if run < 0 || run > blob.MaxSessionRun {
				return fmt.Errorf("--run must be 0..%d", blob.MaxSessionRun)
			}
			if runs < 1 {
				return errors.New("--runs must be at least 1")
			}
			res, err := benchData(cmd.Context(), work, sizeMiB, runs, blob.Client{Parallel: parallel, Run: run})
			if err != nil {
				return err
			}
			return emit(cmd.OutOrStdout(), asJSON, res, func(w io.Writer) {
				fmt.Fprintf(w, "file            %d MiB (random), all files under %s; %d requests of %d chunks in flight, %d CPUs; fastest of %d runs\n", sizeMiB, work, res.Parallel, res.Run, runtime.GOMAXPROCS(0), len(res.CpRuns))
				fmt.Fprintf(w, "cp              %8.1f MiB/s  (CPU %.2f ns/byte; runs %s)\n", res.CpMiBs, res.CpCPUNsB, benchRunList(res.CpRuns))
				fmt.Fprintf(w, "encrypt+upload  %8.1f MiB/s  (%.0f%% of cp, one pass; CPU %.2f ns/byte; runs %s; encrypt+hash alone %.1f MiB/s)\n",
					res.UploadMiBs, 100*res.UploadRatio, res.UploadCPUNsB, benchRunList(res.UploadRuns), res.EncryptMiBs)
				fmt.Fprintf(w, "fetch+decrypt   %8.1f MiB/s  (%.0f%% of cp; CPU %.2f ns/byte; runs %s)\n", res.DownloadMiBs, 100*res.DownloadRatio, res.DownloadCPUNsB, benchRunList(res.DownloadRuns))
				if res.UploadPeakRSS > 0 {
					fmt.Fprintf(w, "peak RSS        upload %.1f MiB, download %.1f MiB (client and store in one process)\n",
						float64(res.UploadPeakRSS)/(1<<20), float64(res.DownloadPeakRSS)/(1<<20))
				}
			})
		},
	}
	cmd.Flags().IntVar(&sizeMiB, "size-mib", 256, "file size in MiB")
	cmd.Flags().StringVar(&dir, "dir", "", "directory on the disk to measure (default: the system temp dir)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print machine-readable JSON")
	cmd.Flags().IntVar(&parallel, "parallel", 0, "requests in flight per direction (default: blob.Client's, which scales with the CPUs)")
	cmd.Flags().IntVar(&runs, "runs", 3, "runs of cp and of each direction; each figure is the fastest run's")
	cmd.Flags().IntVar(&run, "run", 0, fmt.Sprintf("consecutive chunks per request (default %d)", blob.DefaultRun))
	cmd.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the whole bench (cp excluded: it is another process) to this file")
	return cmd
}

// benchRunList lists each run's MiB/s, in the order they ran.
func benchRunList(xs []float64) string {
	parts := make([]string, len(xs))
	for k, x := range xs {
		parts[k] = strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strings.Join(parts, " ")
}

// benchEncryptHash times encrypting the file at src with a fresh payload
// of key and hashing the ciphertext into a blob layout, discarding it.
func benchEncryptHash(src string, key *age.X25519Identity, mib float64) (float64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	p, err := vault.NewPayload(key)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	b := blob.NewBuilder(io.Discard, blob.MaxSize)
	fi, err := in.Stat()
	if err != nil {
		return 0, err
	}
	if err := p.EncryptFile(b, in, fi.Size()); err != nil {
		return 0, err
	}
	if _, err := b.Layout(); err != nil {
		return 0, err
	}
	return mib / time.Since(t0).Seconds(), nil
}

// benchData measures, on one disk: cp of a random file; encrypt + chunk +
// upload to a blob store served over loopback HTTP; fetch with proof checks
// + decrypt. Each throughput is plaintext bytes over wall time.
func benchData(ctx context.Context, work string, sizeMiB, runs int, bc blob.Client) (benchDataOutput, error) {
	out := benchDataOutput{SizeMiB: sizeMiB, Parallel: bc.InFlight(), Run: bc.RunLen()}
	src := filepath.Join(work, "plain.bin")
	f, err := os.Create(src)
	if err != nil {
		return out, err
	}
	if _, err := io.CopyN(f, rand.Reader, int64(sizeMiB)<<20); err != nil {
		f.Close()
		return out, err
	}
	if err := f.Close(); err != nil {
		return out, err
	}
	mib := float64(sizeMiB)
	// cp is the fastest of runs copies: on a VM whose page cache slows
	// down from one run to the next, a single slow cp made the ratios look
	// better than they are; the best cp makes them the harder to meet.
	for range runs {
		t0 := time.Now()
		cp := exec.CommandContext(ctx, "cp", src, filepath.Join(work, "copy.bin"))
		if b, err := cp.CombinedOutput(); err != nil {
			return out, fmt.Errorf("cp: %v: %s", err, b)
		}
		speed := mib / time.Since(t0).Seconds()
		out.CpRuns = append(out.CpRuns, speed)
		if speed > out.CpMiBs {
			out.CpMiBs = speed
			if ru, ok := cp.ProcessState.SysUsage().(*syscall.Rusage); ok {
				out.CpCPUNsB = float64(ru.Utime.Nano()+ru.Stime.Nano()) / float64(int64(sizeMiB)<<20)
			}
		}
		if err := os.Remove(filepath.Join(work, "copy.bin")); err != nil {
			return out, err
		}
	}

	// Each direction is the fastest of runs too, upload and download
	// alternating, each run with a fresh store (and its files removed
	// after), for the same reason as cp: this VM hands freed memory back to
	// its host (free page reporting), and whichever run first writes into
	// such pages pays the host's faults, up to five times the copy's cost.
	var key *age.X25519Identity
	for k := range runs {
		r, rkey, err := benchDataRun(ctx, filepath.Join(work, fmt.Sprintf("run%d", k)), src, bc, int64(sizeMiB)<<20)
		if err != nil {
			return out, err
		}
		key = rkey
		out.UploadRuns = append(out.UploadRuns, r.UploadMiBs)
		out.DownloadRuns = append(out.DownloadRuns, r.DownloadMiBs)
		if r.UploadMiBs > out.UploadMiBs {
			out.UploadMiBs, out.UploadCPUNsB = r.UploadMiBs, r.UploadCPUNsB
		}
		if r.DownloadMiBs > out.DownloadMiBs {
			out.DownloadMiBs, out.DownloadCPUNsB = r.DownloadMiBs, r.DownloadCPUNsB
		}
		out.UploadPeakRSS = max(out.UploadPeakRSS, r.UploadPeakRSS)
		out.DownloadPeakRSS = max(out.DownloadPeakRSS, r.DownloadPeakRSS)
	}
	// Encryption and hashing alone (the ciphertext discarded), last so
	// that it disturbs neither direction: with the upload in one pass,
	// this is what the sending adds to.
	if out.EncryptMiBs, err = benchEncryptHash(src, key, mib); err != nil {
		return out, err
	}
	out.UploadRatio, out.DownloadRatio = out.UploadMiBs/out.CpMiBs, out.DownloadMiBs/out.CpMiBs
	return out, nil
}

// benchDataRun is one run of each direction in dir, removed after: a
// fresh key and store, the file at src encrypted and uploaded over
// loopback HTTP, then fetched with every proof checked and decrypted. It
// returns the key, for benchEncryptHash.
func benchDataRun(ctx context.Context, dir, src string, bc blob.Client, size int64) (benchDataOutput, *age.X25519Identity, error) {
	var out benchDataOutput
	defer os.RemoveAll(dir)
	store, err := blob.Open(filepath.Join(dir, "store"))
	if err != nil {
		return out, nil, err
	}
	defer store.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return out, nil, err
	}
	// The store's side of each direction is labelled like the client's
	// (phase=upload, phase=download) for --cpuprofile's readers:
	// go tool pprof -tagfocus phase=download.
	bh := blob.NewHandler(store)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		phase := "upload"
		if r.Method == http.MethodGet {
			phase = "download"
		}
		pprof.Do(r.Context(), pprof.Labels("phase", phase), func(context.Context) { bh.ServeHTTP(w, r) })
	})}
	go srv.Serve(ln)
	defer srv.Close()
	node := "http://" + ln.Addr().String()
	e := &dataEnv{blobs: []string{node}, bc: bc}

	// Peak RSS of each direction, where Linux lets the peak be reset;
	// the earlier runs' garbage is returned first, so the peak is this
	// run's.
	debug.FreeOSMemory()
	perPhase := benchResetHWM() == nil
	mib, nb := float64(size)/(1<<20), float64(size)
	c0 := benchCPUTime()
	t0 := time.Now()
	var (
		key *age.X25519Identity
		m   blob.Manifest
	)
	pprof.Do(ctx, pprof.Labels("phase", "upload"), func(ctx context.Context) {
		if key, err = vault.NewAssetKey(); err != nil {
			return
		}
		var p *vault.Payload
		if p, err = vault.NewPayload(key); err != nil {
			return
		}
		m, err = e.uploadPayload(ctx, src, p, &pendingUpload{}, func() error { return nil })
	})
	if err != nil {
		return out, nil, err
	}
	t1 := time.Now()
	out.UploadCPUNsB = float64(benchCPUTime()-c0) / nb
	if hwm, err := benchVmHWM(); err == nil && perPhase {
		out.UploadPeakRSS = hwm
		perPhase = benchResetHWM() == nil
	}
	out.UploadMiBs = mib / t1.Sub(t0).Seconds()

	c0 = benchCPUTime()
	t0 = time.Now()
	dst := filepath.Join(dir, "out.bin")
	v := &app.VersionRecord{Root: tx.DataHash(m.Root), Size: m.Size}
	pprof.Do(ctx, pprof.Labels("phase", "download"), func(ctx context.Context) {
		_, err = fetchDecryptWith(ctx, e.bc, []string{node}, v, key, dst)
	})
	if err != nil {
		return out, nil, err
	}
	out.DownloadMiBs = mib / time.Since(t0).Seconds()
	out.DownloadCPUNsB = float64(benchCPUTime()-c0) / nb
	if hwm, err := benchVmHWM(); err == nil && perPhase {
		out.DownloadPeakRSS = hwm
	}
	return out, key, nil
}
