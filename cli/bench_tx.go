package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/provena/provena/api"
	"github.com/provena/provena/app"
	"github.com/provena/provena/client"
	"github.com/provena/provena/node"
	"github.com/provena/provena/tx"
)

func init() { benchCommands = append(benchCommands, newBenchTxCmd) }

type benchTxConfig struct {
	accounts    int
	txs         int
	workers     int
	blockTimeMs uint64
	timeout     time.Duration
	// nodeLog receives every node's CometBFT log at nodeLogLevel.
	nodeLog      io.Writer
	nodeLogLevel string
}

// benchTxResult is one scenario's measurement.
type benchTxResult struct {
	Validators   int     `json:"validators"`
	Submitted    int     `json:"submitted"`
	Rejected     int     `json:"rejected"`
	Committed    int     `json:"committed"`
	Failed       int     `json:"failed_in_block"`
	Seconds      float64 `json:"seconds"`
	TxPerSec     float64 `json:"committed_tx_per_sec"`
	P50Ms        float64 `json:"latency_p50_ms"`
	P99Ms        float64 `json:"latency_p99_ms"`
	Blocks       int     `json:"blocks"`
	MaxBlockTxs  int     `json:"max_block_txs"`
	FirstRejects string  `json:"first_reject,omitempty"`
	// CPUSeconds is this process's user+system CPU time from the first
	// submission to the last commit (every node runs in this process), and
	// CPUPerTxUs its share per committed transfer: a figure that other load
	// on the machine does not inflate the way it inflates wall time.
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPerTxUs float64 `json:"cpu_us_per_tx"`
	LoadAvg    string  `json:"load_avg,omitempty"`
}

// cpuTime returns this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg reads /proc/loadavg where there is one, to put wall-clock figures
// in context on a shared machine.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func newBenchTxCmd() *cobra.Command {
	var (
		cfg        benchTxConfig
		validators string
		asJSON     bool
		cpuprofile string
		nodeLog    string
	)
	cmd := &cobra.Command{
		Use:   "tx",
		Short: "Committed transfers/s and submit-to-commit latency, 1 node and 4 validators on 127.0.0.1",
		Long: `Starts fresh chains in temporary homes, every node in this process (CometBFT
in-process per node, each with its own HTTP API), funds --accounts sender
accounts at genesis, pre-signs --txs transfers spread over them, submits them
in nonce order per sender from --workers goroutines through POST /v1/txs
(mode sync, round-robin over the nodes) and takes each transaction's commit
time from node0's NewBlock events.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ns []int
			for _, s := range strings.Split(validators, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n < 1 || n > 16 {
					return fmt.Errorf("--validators %q: want a comma-separated list of 1..16", validators)
				}
				ns = append(ns, n)
			}
			if cfg.accounts < 1 || cfg.txs < cfg.accounts {
				return errors.New("--accounts must be >= 1 and --txs >= --accounts")
			}
			cfg.nodeLog = io.Discard
			if nodeLog != "" {
				f, err := os.Create(nodeLog)
				if err != nil {
					return err
				}
				defer f.Close()
				cfg.nodeLog, cfg.nodeLogLevel = f, "consensus:info,state:info,*:error"
			}
			if cpuprofile != "" {
				f, err := os.Create(cpuprofile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			log := cmd.ErrOrStderr()
			var results []benchTxResult
			for _, n := range ns {
				r, err := benchTx(cmd.Context(), log, n, cfg)
				if err != nil {
					return fmt.Errorf("%d validator(s): %w", n, err)
				}
				results = append(results, r)
			}
			return emit(cmd.OutOrStdout(), asJSON, results, func(w io.Writer) {
				fmt.Fprintf(w, "committed transfers, %d senders, %d transfers per run, %d submit goroutines, block time %d ms\n",
					cfg.accounts, cfg.txs, cfg.workers, cfg.blockTimeMs)
				tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', tabwriter.AlignRight)
				fmt.Fprintln(tw, "validators\tcommitted\ttx/s\tp50 ms\tp99 ms\tblocks\tmax txs/block\trejected\tCPU µs/tx\tload avg\t")
				for _, r := range results {
					fmt.Fprintf(tw, "%d\t%d\t%.0f\t%.0f\t%.0f\t%d\t%d\t%d\t%.0f\t%s\t\n", r.Validators, r.Committed, r.TxPerSec, r.P50Ms, r.P99Ms, r.Blocks, r.MaxBlockTxs, r.Rejected, r.CPUPerTxUs, r.LoadAvg)
				}
				tw.Flush()
				fmt.Fprintln(w, "CPU µs/tx: this process's CPU time (all nodes, submitters, signing excluded) per committed transfer")
				for _, r := range results {
					if r.Rejected > 0 {
						fmt.Fprintf(w, "%d validator(s): %d rejected, the first with: %s\n", r.Validators, r.Rejected, r.FirstRejects)
					}
				}
			})
		},
	}
	cmd.Flags().IntVar(&cfg.accounts, "accounts", 200, "sender accounts funded at genesis")
	cmd.Flags().IntVar(&cfg.txs, "txs", 20000, "transfers per scenario")
	cmd.Flags().IntVar(&cfg.workers, "workers", 16, "submitting goroutines")
	cmd.Flags().Uint64Var(&cfg.blockTimeMs, "block-time-ms", 200, "block time (timeout_commit) of the benchmark chains")
	cmd.Flags().DurationVar(&cfg.timeout, "timeout", 3*time.Minute, "give up on a scenario after this long")
	cmd.Flags().StringVar(&validators, "validators", "1,4", "comma-separated validator counts to run")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print machine-readable JSON")
	cmd.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	cmd.Flags().StringVar(&nodeLog, "node-log", "", "write the nodes' consensus and state logs (info level) to this file")
	return cmd
}

// benchKey derives sender i's key from its index so runs are repeatable.
func benchKey(i int) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "provena-bench-sender")
	binary.BigEndian.PutUint64(seed[24:], uint64(i))
	return ed25519.NewKeyFromSeed(seed)
}

func benchTx(parent context.Context, log io.Writer, n int, cfg benchTxConfig) (benchTxResult, error) {
	res := benchTxResult{Validators: n}
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, cfg.timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "provena-bench-tx-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)

	params := app.DefaultParams()
	params.BlockTimeMs = cfg.blockTimeMs
	const chainID = "provena-bench"
	privs := make([]ed25519.PrivateKey, cfg.accounts)
	var accounts []app.GenesisAccount
	for i := range privs {
		privs[i] = benchKey(i)
		a := tx.AddressFromPubKey(privs[i].Public().(ed25519.PublicKey))
		accounts = append(accounts, app.GenesisAccount{Address: a.String(), Balance: 1 << 50})
	}
	ports, err := node.FreePorts(n)
	if err != nil {
		return res, err
	}
	homes, err := node.Testnet(dir, n, node.InitOptions{ChainID: chainID, Params: &params, Ports: ports, Accounts: accounts})
	if err != nil {
		return res, err
	}
	nodes := make([]*node.Node, 0, n)
	defer func() {
		var wg sync.WaitGroup
		for _, nd := range nodes {
			wg.Add(1)
			go func() { defer wg.Done(); nd.Stop() }()
		}
		wg.Wait()
	}()
	for _, h := range homes {
		nd, err := node.Start(ctx, h.Dir, node.StartOptions{LogWriter: cfg.nodeLog, LogLevel: cfg.nodeLogLevel})
		if err != nil {
			return res, err
		}
		nodes = append(nodes, nd)
	}
	clients := make([]*client.Client, n)
	for i, nd := range nodes {
		clients[i] = client.New(nd.APIAddr)
		if _, err := clients[i].WaitHeight(ctx, 2); err != nil {
			return res, err
		}
	}

	// Pre-sign: sender s sends nonces 0..per-1, all to the next sender.
	per := cfg.txs / cfg.accounts
	signed := make([][][]byte, cfg.accounts)
	for s := range signed {
		to := tx.AddressFromPubKey(privs[(s+1)%cfg.accounts].Public().(ed25519.PublicKey))
		signed[s] = make([][]byte, per)
		for j := range per {
			b, err := tx.Sign(privs[s], chainID, uint64(j), params.MinFee, tx.MsgTransfer{To: to, Amount: 1})
			if err != nil {
				return res, err
			}
			signed[s][j] = b
		}
	}
	total := per * cfg.accounts
	fmt.Fprintf(log, "bench tx: %d validator(s) up, %d transfers signed, submitting…\n", n, total)

	// Commit times come from node0's block events.
	type commit struct {
		at   time.Time
		code uint32
	}
	var (
		mu       sync.Mutex
		commits  = make(map[[32]byte]commit, total)
		submitAt = make(map[[32]byte]time.Time, total)
	)
	events, err := nodes[0].Client.Subscribe(ctx, "bench-tx", cmttypes.EventQueryNewBlock.String(), 10000)
	if err != nil {
		return res, fmt.Errorf("subscribe to blocks: %w", err)
	}
	defer nodes[0].Client.UnsubscribeAll(context.Background(), "bench-tx")
	allDone := make(chan struct{})
	var pending atomic.Int64
	pending.Store(int64(total))
	go func() {
		for ev := range events {
			now := time.Now()
			nb, ok := ev.Data.(cmttypes.EventDataNewBlock)
			if !ok {
				continue
			}
			mu.Lock()
			res.Blocks++
			res.MaxBlockTxs = max(res.MaxBlockTxs, len(nb.Block.Txs))
			for i, t := range nb.Block.Txs {
				var code uint32
				if i < len(nb.ResultFinalizeBlock.TxResults) {
					code = nb.ResultFinalizeBlock.TxResults[i].Code
				}
				commits[tx.Hash(t)] = commit{at: now, code: code}
			}
			mu.Unlock()
			if pending.Add(-int64(len(nb.Block.Txs))) <= 0 {
				select {
				case <-allDone:
				default:
					close(allDone)
				}
			}
		}
	}()

	start := time.Now()
	cpuStart := cpuTime()
	var rejected atomic.Int64
	var firstReject atomic.Value
	var wg sync.WaitGroup
	for w := range cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range per {
				for s := w; s < cfg.accounts; s += cfg.workers {
					b := signed[s][j]
					h := tx.Hash(b)
					mu.Lock()
					submitAt[h] = time.Now()
					mu.Unlock()
					c := clients[s%n]
					for {
						_, err := c.Broadcast(ctx, b, "sync")
						var e *api.Error
						if err != nil && errors.As(err, &e) && e.Code == "unavailable" && ctx.Err() == nil {
							time.Sleep(20 * time.Millisecond) // mempool full: back off and retry
							continue
						}
						if err != nil {
							rejected.Add(1)
							firstReject.CompareAndSwap(nil, err.Error())
							pending.Add(-1)
						}
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	submitted := time.Since(start)
	select {
	case <-allDone:
	case <-ctx.Done():
		fmt.Fprintf(log, "bench tx: timed out with %d transfers not committed\n", pending.Load())
	}
	cpuUsed := cpuTime() - cpuStart
	res.LoadAvg = loadAvg()
	mu.Lock()
	defer mu.Unlock()
	var last time.Time
	var lat []float64
	for h, sub := range submitAt {
		c, ok := commits[h]
		if !ok {
			continue
		}
		if c.code != 0 {
			res.Failed++
			continue
		}
		res.Committed++
		if c.at.After(last) {
			last = c.at
		}
		lat = append(lat, float64(c.at.Sub(sub))/float64(time.Millisecond))
	}
	res.Submitted = total
	res.Rejected = int(rejected.Load())
	if v, ok := firstReject.Load().(string); ok {
		res.FirstRejects = v
	}
	if res.Committed > 0 {
		res.Seconds = last.Sub(start).Seconds()
		res.TxPerSec = float64(res.Committed) / res.Seconds
		slices.Sort(lat)
		res.P50Ms = lat[len(lat)/2]
		res.P99Ms = lat[min(len(lat)-1, len(lat)*99/100)]
		res.CPUSeconds = cpuUsed.Seconds()
		res.CPUPerTxUs = float64(cpuUsed.Microseconds()) / float64(res.Committed)
	}
	fmt.Fprintf(log, "bench tx: %d validator(s): submitted in %.1fs, %d committed in %.1fs\n", n, submitted.Seconds(), res.Committed, res.Seconds)
	return res, nil
}
