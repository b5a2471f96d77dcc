package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/spf13/cobra"
	"gonum.org/v1/plot/vg"

	"github.com/provena/provena/app"
	"github.com/provena/provena/client"
	"github.com/provena/provena/energy"
	"github.com/provena/provena/energy/chart"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/node"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/worker"
)

func init() { commands = append(commands, newEnergyCmd) }

func newEnergyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "energy",
		Short: "Energy and carbon: production devices, granular certificates, grid intensity, reports",
	}
	meter := &cobra.Command{Use: "meter", Short: "Meter keys and signed readings"}
	meter.AddCommand(newEnergyMeterKeygenCmd(), newEnergyMeterSubmitCmd())
	device := &cobra.Command{Use: "device", Short: "Production devices"}
	device.AddCommand(newEnergyDeviceRegisterCmd(), newEnergyDeviceShowCmd())
	intensity := &cobra.Command{Use: "intensity", Short: "Hourly grid intensity: post (oracles), synthesise, show"}
	intensity.AddCommand(newEnergyIntensityPostCmd(), newEnergyIntensitySynthCmd(), newEnergyIntensityShowCmd())
	oracles := &cobra.Command{Use: "oracles", Short: "The accounts allowed to post grid intensity"}
	oracles.AddCommand(newEnergyOraclesSetCmd())
	cmd.AddCommand(meter, device, intensity, oracles,
		newEnergyCertsCmd(), newEnergyOffersCmd(), newEnergyOfferCmd(), newEnergyCancelCmd(), newEnergyBuyCmd(),
		newEnergyTransferCmd(), newEnergySplitCmd(), newEnergyRetireCmd(), newEnergyReportCmd(), newEnergyEstimateCmd(),
		newEnergyWorkerProfileCmd(), newEnergyReceiptCmd(), newEnergyDemoCmd())
	return cmd
}

// energyFlags are the flags of the energy commands that talk to a node.
type energyFlags struct {
	ledgerFlags
	rpc     string
	from    string
	fee     uint64
	timeout time.Duration
}

func (f *energyFlags) add(cmd *cobra.Command, signs bool) {
	f.addHome(cmd)
	f.addJSON(cmd)
	f.addNode(cmd)
	cmd.Flags().StringVar(&f.rpc, "rpc", "", "CometBFT RPC URL for queries (default: the RPC address in the home's config.toml)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up after this long")
	f.addKeyring(cmd)
	if signs {
		cmd.Flags().StringVar(&f.from, "from", "", "name of the signing key in the keyring")
		cmd.MarkFlagRequired("from")
		cmd.Flags().Uint64Var(&f.fee, "fee", 0, "fee in upv (default: the chain's min_fee)")
	}
}

// energyEnv is a connected energy command: the API client for sending and
// the CometBFT RPC client for module queries (the HTTP API has no generic
// module query route yet).
type energyEnv struct {
	f   *energyFlags
	c   *client.Client
	rpc *rpchttp.HTTP
}

func (f *energyFlags) env() (*energyEnv, error) {
	c, err := f.client()
	if err != nil {
		return nil, err
	}
	addr := f.rpc
	if addr == "" {
		if f.node != "" {
			return nil, errors.New("with --node, also pass --rpc URL (CometBFT RPC) for energy queries")
		}
		cfg, err := node.LoadConfig(f.home)
		if err != nil {
			return nil, fmt.Errorf("find the node's RPC address (or pass --rpc URL): %w", err)
		}
		addr = cfg.RPC.ListenAddress
	}
	addr = strings.Replace(addr, "tcp://", "http://", 1)
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	r, err := rpchttp.New(addr)
	if err != nil {
		return nil, fmt.Errorf("rpc client %s: %w", addr, err)
	}
	return &energyEnv{f: f, c: c, rpc: r}, nil
}

// query runs an energy query path and decodes its JSON value into out.
func (e *energyEnv) query(ctx context.Context, path, data string, out any) error {
	res, err := e.rpc.ABCIQuery(ctx, path, []byte(data))
	if err != nil {
		return fmt.Errorf("query %s %q: %w", path, data, err)
	}
	if res.Response.Code != app.CodeOK {
		return fmt.Errorf("query %s %q: code %d: %s", path, data, res.Response.Code, res.Response.Log)
	}
	if err := json.Unmarshal(res.Response.Value, out); err != nil {
		return fmt.Errorf("query %s: decode: %w", path, err)
	}
	return nil
}

// energyTxOut is what a sent energy transaction prints.
type energyTxOut struct {
	From   string      `json:"from"`
	Type   string      `json:"type"`
	Hash   string      `json:"hash"`
	Height int64       `json:"height"`
	Code   uint32      `json:"code"`
	Log    string      `json:"log,omitempty"`
	Events []app.Event `json:"events,omitempty"`
}

// send signs msg with --from, waits for its block and prints the result
// with the module's events (new bundle and offer ids).
func (e *energyEnv) send(ctx context.Context, cmd *cobra.Command, msg tx.Msg) (energyTxOut, error) {
	kr, err := e.f.keyring(false)
	if err != nil {
		return energyTxOut{}, err
	}
	priv, err := kr.PrivateKey(e.f.from)
	if err != nil {
		return energyTxOut{}, err
	}
	return e.sendWith(ctx, cmd, priv, msg)
}

func (e *energyEnv) sendWith(ctx context.Context, cmd *cobra.Command, priv ed25519.PrivateKey, msg tx.Msg) (energyTxOut, error) {
	fee := e.f.fee
	if fee == 0 {
		p, err := e.c.Params(ctx)
		if err != nil {
			return energyTxOut{}, fmt.Errorf("read the minimum fee: %w", err)
		}
		fee = p.MinFee
	}
	sent, sendErr := e.c.Send(ctx, priv, fee, msg, true)
	if sendErr != nil && sent.Committed == nil {
		return energyTxOut{}, fmt.Errorf("%s: %w", tx.MsgName(msg.Type()), sendErr)
	}
	out := energyTxOut{From: tx.AddressFromPubKey(priv.Public().(ed25519.PublicKey)).String(), Type: tx.MsgName(msg.Type()), Hash: sent.Hash}
	if sent.Committed != nil {
		out.Height, out.Code, out.Log = sent.Committed.Height, sent.Committed.Code, sent.Committed.Log
		if h, err := hex.DecodeString(sent.Hash); err == nil {
			if r, err := e.rpc.Tx(ctx, h, false); err == nil {
				for _, ev := range r.TxResult.Events {
					if ev.Type == "tx" {
						continue
					}
					ae := app.Event{Type: ev.Type}
					for _, a := range ev.Attributes {
						ae.Attrs = append(ae.Attrs, app.Attr{Key: a.Key, Value: a.Value})
					}
					out.Events = append(out.Events, ae)
				}
			}
		}
	}
	if cmd != nil {
		if err := emit(cmd.OutOrStdout(), e.f.json, out, func(w io.Writer) {
			switch {
			case sent.Committed == nil:
				fmt.Fprintf(w, "%s: tx %s not committed\n", out.Type, out.Hash)
			case out.Code == 0:
				fmt.Fprintf(w, "%s committed in block %d (tx %s)\n", out.Type, out.Height, short(out.Hash))
			default:
				fmt.Fprintf(w, "%s FAILED in block %d (code %d %s): %s\n", out.Type, out.Height, out.Code, energyCodeName(out.Code), out.Log)
			}
			for _, ev := range out.Events {
				var kv []string
				for _, a := range ev.Attrs {
					kv = append(kv, a.Key+"="+a.Value)
				}
				fmt.Fprintf(w, "  %s %s\n", ev.Type, strings.Join(kv, " "))
			}
		}); err != nil {
			return out, err
		}
	}
	return out, sendErr
}

func energyCodeName(c uint32) string {
	if n := app.EnergyCodeName(c); n != "" {
		return n
	}
	return app.CodeName(c)
}

// energyRun wraps a command body with its timeout and a connected env.
func energyRun(f *energyFlags, run func(ctx context.Context, e *energyEnv, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, err := f.env()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
		defer cancel()
		return run(ctx, e, cmd, args)
	}
}

// --- meter ---

func newEnergyMeterKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create a meter key: writes FILE (ed25519 seed, hex, mode 0600) and FILE's .pub (public key, hex)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			if _, err := os.Stat(out); err == nil {
				return fmt.Errorf("%s exists; refusing to overwrite a meter key", out)
			}
			if err := os.WriteFile(out, []byte(hex.EncodeToString(priv.Seed())+"\n"), 0o600); err != nil {
				return err
			}
			pubPath := energyPubPath(out)
			if err := os.WriteFile(pubPath, []byte(hex.EncodeToString(pub)+"\n"), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "meter key %s, public key %s\ndevice id once registered: %s\n", out, pubPath, energy.DeviceIDFromMeterKey(pub))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "meter.key", "private key file")
	return cmd
}

func energyPubPath(keyPath string) string {
	return strings.TrimSuffix(keyPath, ".key") + ".pub"
}

func energyReadHexFile(path string, n int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(v) != n {
		return nil, fmt.Errorf("%s: want %d bytes of hex", path, n)
	}
	return v, nil
}

func energyReadMeterKey(path string) (ed25519.PrivateKey, error) {
	seed, err := energyReadHexFile(path, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("read meter key: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// energyCSVRow is one row of readings.csv: start,end,wh.
type energyCSVRow struct {
	Start, End time.Time
	Wh         uint64
}

// parseEnergyReadingsCSV reads "start,end,wh" rows (RFC 3339 UTC times, Wh
// produced in the interval); a first row that does not parse as times is a
// header, "#" lines are comments.
func parseEnergyReadingsCSV(r io.Reader) ([]energyCSVRow, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 3
	cr.TrimLeadingSpace = true
	var rows []energyCSVRow
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("readings csv: %w", err)
		}
		s, err1 := time.Parse(time.RFC3339, rec[0])
		e, err2 := time.Parse(time.RFC3339, rec[1])
		if line == 1 && (err1 != nil || err2 != nil) && rec[2] == "wh" {
			continue
		}
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("readings csv line %d: times must be RFC 3339 (2026-06-01T12:00:00Z): %v", line, errors.Join(err1, err2))
		}
		wh, err := strconv.ParseUint(rec[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("readings csv line %d: wh %q must be a whole number", line, rec[2])
		}
		rows = append(rows, energyCSVRow{Start: s.UTC(), End: e.UTC(), Wh: wh})
	}
	if len(rows) == 0 {
		return nil, errors.New("readings csv: no rows")
	}
	return rows, nil
}

func newEnergyMeterSubmitCmd() *cobra.Command {
	var (
		f        energyFlags
		device   string
		readings string
		meterKey string
	)
	cmd := &cobra.Command{
		Use:   "submit",
		Short: "Sign readings.csv (start,end,wh) with the meter key and submit them; each completed device-hour becomes a certificate bundle",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = energyRun(&f, func(ctx context.Context, e *energyEnv, cmd *cobra.Command, _ []string) error {
		meter, err := energyReadMeterKey(meterKey)
		if err != nil {
			return err
		}
		id, err := energy.ParseDeviceID(device)
		if err != nil {
			return err
		}
		if want := energy.DeviceIDFromMeterKey(meter.Public().(ed25519.PublicKey)); want != id {
			return fmt.Errorf("meter key %s belongs to device %s, not %s", meterKey, want, id)
		}
		fh, err := os.Open(readings)
		if err != nil {
			return err
		}
		defer fh.Close()
		rows, err := parseEnergyReadingsCSV(fh)
		if err != nil {
			return err
		}
		var d *app.EnergyDevice
		if err := e.query(ctx, app.QueryEnergyDevice, id.String(), &d); err != nil {
			return err
		}
		if d == nil {
			return fmt.Errorf("device %s is not registered (provena energy device register)", id)
		}
		st, err := e.c.Status(ctx)
		if err != nil {
			return err
		}
		msgs, skipped, err := energyReadingMsgs(meter, st.ChainID, id, d, rows)
		if err != nil {
			return err
		}
		if skipped > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "skipping %d rows that end before the device's last reading (%s)\n", skipped, time.Unix(d.LastEnd, 0).UTC().Format(time.RFC3339))
		}
		for _, m := range msgs {
			if _, err := e.send(ctx, cmd, m); err != nil {
				return err
			}
		}
		return nil
	})
	f.add(cmd, true)
	cmd.Flags().StringVar(&device, "device", "", "device id")
	cmd.Flags().StringVar(&readings, "readings", "", "CSV of start,end,wh rows (RFC 3339 UTC)")
	cmd.Flags().StringVar(&meterKey, "meter-key", "meter.key", "the meter's private key file")
	cmd.MarkFlagRequired("device")
	cmd.MarkFlagRequired("readings")
	return cmd
}

// energyReadingMsgs signs rows as readings continuing d's cumulative
// register, in messages of at most tx.MaxEnergyReadings readings. Rows that
// end at or before the device's last reading are skipped (a resumed upload).
func energyReadingMsgs(meter ed25519.PrivateKey, chainID string, id energy.DeviceID, d *app.EnergyDevice, rows []energyCSVRow) ([]tx.MsgEnergySubmitReadings, int, error) {
	cum := d.CumulativeWh
	var msgs []tx.MsgEnergySubmitReadings
	skipped := 0
	for _, row := range rows {
		if row.End.Unix() <= d.LastEnd {
			skipped++
			continue
		}
		if cum+row.Wh < cum {
			return nil, 0, errors.New("cumulative register overflows")
		}
		cum += row.Wh
		r := energy.Reading{Device: id, Start: row.Start.Unix(), End: row.End.Unix(), Wh: row.Wh, CumulativeWh: cum}
		sig, err := energy.SignReading(meter, chainID, r)
		if err != nil {
			return nil, 0, err
		}
		if len(msgs) == 0 || len(msgs[len(msgs)-1].Readings) == tx.MaxEnergyReadings {
			msgs = append(msgs, tx.MsgEnergySubmitReadings{Device: id})
		}
		m := &msgs[len(msgs)-1]
		m.Readings = append(m.Readings, tx.EnergySignedReading{Start: r.Start, End: r.End, Wh: r.Wh, CumulativeWh: r.CumulativeWh, Signature: sig})
	}
	return msgs, skipped, nil
}

// --- devices ---

func newEnergyDeviceRegisterCmd() *cobra.Command {
	var (
		f         energyFlags
		tech      string
		capacityW uint64
		zone      string
		meterPub  string
	)
	cmd := &cobra.Command{Use: "register", Short: "Register a production device owned by --from", Args: cobra.NoArgs}
	cmd.RunE = energyRun(&f, func(ctx context.Context, e *energyEnv, cmd *cobra.Command, _ []string) error {
		pub, err := energyReadHexFile(meterPub, ed25519.PublicKeySize)
		if err != nil {
			return fmt.Errorf("read meter public key: %w", err)
		}
		msg := tx.MsgEnergyRegisterDevice{Tech: tech, CapacityW: capacityW, Zone: zone, MeterPubKey: pub}
		if err := msg.ValidateBasic(); err != nil {
			return err
		}
		_, err = e.send(ctx, cmd, msg)
		return err
	})
	f.add(cmd, true)
	cmd.Flags().StringVar(&tech, "tech", "solar", "technology: "+strings.Join(tx.EnergyTechnologies, ", "))
	cmd.Flags().Uint64Var(&capacityW, "capacity-w", 0, "peak capacity in W")
	cmd.Flags().StringVar(&zone, "zone", "", "grid zone (Electricity Maps key, e.g. DE)")
	cmd.Flags().StringVar(&meterPub, "meter-pubkey", "meter.pub", "the meter's public key file (from meter keygen)")
	cmd.MarkFlagRequired("capacity-w")
	cmd.MarkFlagRequired("zone")
	return cmd
}

func newEnergyDeviceShowCmd() *cobra.Command {
	var f energyFlags
	cmd := &cobra.Command{Use: "show <device id | owner>", Short: "Show a device, or the devices of an owner", Args: cobra.ExactArgs(1)}
	cmd.RunE = energyRun(&f, func(ctx context.Context, e *energyEnv, cmd *cobra.Command, args []string) error {
		var ids []string
		if _, err := energy.ParseDeviceID(args[0]); err == nil {
			ids = []string{args[0]}
		} else {
			addr, err := f.resolveAddress(args[0])
			if err != nil {
				return err
			}
			if err := e.query(ctx, app.QueryEnergyDevices, addr.String(), &ids); err != nil {
				return err
			}
		}
		var devs []app.EnergyDevice
		for _, id := range ids {
			var d *app.EnergyDevice
			if err := e.query(ctx, app.QueryEnergyDevice, id, &d); err != nil {
				return err
			}
			if d == nil {
				return fmt.Errorf("no device %s", id)
			}
			devs = append(devs, *d)
		}
		return emit(cmd.OutOrStdout(), f.json, devs, func(w io.Writer) {
			for _, d := range devs {
				fmt.Fprintf(w, "device %s  owner %s  %s %d W in %s  issued %d Wh  register %d Wh  last reading ends %s\n",
					d.ID, d.Owner, d.Tech, d.CapacityW, d.Zone, d.IssuedWh, d.CumulativeWh, time.Unix(d.LastEnd, 0).UTC().Format(time.RFC3339))
			}
		})
	})
	f.add(cmd, false)
	return cmd
}

// --- certificates ---

// parseEnergyHour accepts 2026-06-01T12, 2026-06-01T12:00:00Z or unix seconds.
func parseEnergyHour(s string) (int64, error) {
	for _, layout := range []string{"2006-01-02T15", "2006-01-02T15:04", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Unix()%3600 != 0 {
				return 0, fmt.Errorf("hour %q is not at the start of an hour", s)
			}
			return t.Unix(), nil
		}
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil && v%3600 == 0 {
		return v, nil
	}
	return 0, fmt.Errorf("hour %q: use 2026-06-01T12 (UTC)", s)
}

func energyHourText(h int64) string { return time.Unix(h, 0).UTC().Format("2006-01-02T15") }

func (e *energyEnv) certs(ctx context.Context, owner tx.Address) ([]app.EnergyCert, error) {
	var ids []uint64
	if err := e.query(ctx, app.QueryEnergyCerts, owner.String(), &ids); err != nil {
		return nil, err
	}
	out := make([]app.EnergyCert, 0, len(ids))
	for _, id := range ids {
		c, err := e.cert(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (e *energyEnv) cert(ctx context.Context, id uint64) (app.EnergyCert, error) {
	var c *app.EnergyCert
	if err := e.query(ctx, app.QueryEnergyCert, strconv.FormatUint(id, 10), &c); err != nil {
		return app.EnergyCert{}, err
	}
	if c == nil {
		return app.EnergyCert{}, fmt.Errorf("no certificate bundle %d", id)
	}
	return *c, nil
}

func printEnergyCerts(w io.Writer, cs []app.EnergyCert) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUNDLE\tDEVICE\tTECH\tZONE\tHOUR (UTC)\tWH\tSTATUS\tOWNER")
	for _, c := range cs {
		st := c.Status
		if c.Offer != 0 {
			st += fmt.Sprintf(" (offer %d)", c.Offer)
		}
		if c.Claim != "" {
			st += " for " + c.Claim
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", c.ID, short(c.Device), c.Tech, c.Zone, energyHourText(c.Hour), c.Wh, st, c.Owner)
	}
	tw.Flush()
}

func newEnergyCertsCmd() *cobra.Command {
	var (
		f     energyFlags
		owner string
		hour  string
	)
	cmd := &cobra.Command{Use: "certs", Short: "List the active and offered certificate bundles of an owner", Args: cobra.NoArgs}
	cmd.RunE = energyRun(&f, func(ctx context.Context, e *energyEnv, cmd *cobra.Command, _ []string) error {
		if owner == "" {
			return errors.New("--owner ADDR (or a key name) is required")
		}
		addr, err := f.resolveAddress(owner)
		if err != nil {
			return err
		}
		cs, err := e.certs(ctx, addr)
		if err != nil {
			return err
		}
		if hour != "" {
			h, err := parseEnergyHour(hour)
			if err != nil {
				return err
			}
			keep := cs[:0]
			for _, c := range cs {
				if c.Hour == h {
					keep = append(keep, c)
				}
			}
			cs = keep
		}
		return emit(cmd.OutOrStdout(), f.json, cs, func(w io.Writer) { printEnergyCerts(w, cs) })
	})
	f.add(cmd, false)
	cmd.Flags().StringVar(&owner, "owner", "", "owner address or key name")
	cmd.Flags().StringVar(&hour, "hour", "", "only bundles of this UTC hour, e.g. 2026-06-01T12")
	return cmd
}

func newEnergyOffersCmd() *cobra.Command {
	var f energyFlags
	cmd := &cobra.Command{Use: "offers", Short: "List open offers", Args: cobra.NoArgs}
	type row struct {
		Offer app.EnergyOffer `json:"offer"`
		Cert  app.EnergyCert  `json:"cert"`
	}
	cmd.RunE = energyRun(&f, func(ctx context.Context, e *energyEnv, cmd *cobra.Command, _ []string) error {
		var ids []uint64
		if err := e.query(ctx, app.QueryEnergyOffers, "", &ids); err != nil {
			return err
		}
		var rows []row
		for _, id := range ids {
			var o *app.EnergyOffer
			if err := e.query(ctx, app.QueryEnergyOffer, strconv.FormatUint(id, 10), &o); err != nil {
				return err
			}
			if o == nil {
				continue
			}
			c, err := e.cert(ctx, o.Cert)
			if err != nil {
				return err
			}
			rows = append(rows, row{*o, c})
		}
		return emit(cmd.OutOrStdout(), f.json, rows, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "OFFER\tBUNDLE\tTECH\tZONE\tHOUR (UTC)\tWH\tUPV/WH\tSELLER")
			for _, r := range rows {
				fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%d\t%d\t%s\n", r.Offer.ID, r.Cert.ID, r.Cert.Tech, r.Cert.Zone, energyHourText(r.Cert.Hour), r.Cert.Wh, r.Offer.PricePerWh, r.Offer.Seller)
			}
			tw.Flush()
		})
	})
	f.add(cmd, false)
	return cmd
}

func energyIDArg(s, what string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q must be a number", what, s)
	}
	return v, nil
}

// energyMsgCmd builds a signing command whose only argument is an id.
func energyMsgCmd(use, short string, extra func(cmd *cobra.Command), build func(id uint64, f *energyFlags) (tx.Msg, error)) *cobra.Command {
	var f energyFlags
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1)}
	cmd.RunE = energyRun(&f, func(ctx context.Context, e *energyEnv, cmd *cobra.Command, args []string) error {
		id, err := energyIDArg(args[0], strings.Fields(use)[1])
		if err != nil {
			return err
		}
		msg, err := build(id, &f)
		if err != nil {
			return err
		}
		if err := msg.ValidateBasic(); err != nil {
			return err
		}
		_, err = e.send(ctx, cmd, msg)
		return err
	})
	f.add(cmd, true)
	extra(cmd)
	return cmd
}

func newEnergyOfferCmd() *cobra.Command {
	var wh, price uint64
	return energyMsgCmd("offer <cert>", "Offer Wh of a bundle for sale at --price upv per Wh (the Wh are escrowed)", func(cmd *cobra.Command) {
		cmd.Flags().Uint64Var(&wh, "wh", 0, "Wh to offer (default: the whole bundle)")
		cmd.Flags().Uint64Var(&price, "price", 0, "price in upv per Wh")
		cmd.MarkFlagRequired("price")
	}, func(id uint64, _ *energyFlags) (tx.Msg, error) {
		return tx.MsgEnergyOffer{Cert: id, Wh: wh, PricePerWh: price}, nil
	})
}

func newEnergyCancelCmd() *cobra.Command {
	return energyMsgCmd("cancel <offer>", "Cancel your open offer; the bundle returns to you", func(*cobra.Command) {},
		func(id uint64, _ *energyFlags) (tx.Msg, error) { return tx.MsgEnergyCancelOffer{Offer: id}, nil })
}

func newEnergyBuyCmd() *cobra.Command {
	var wh, maxPrice uint64
	return energyMsgCmd("buy <offer>", "Buy an offer (or --wh of it), paying the seller atomically", func(cmd *cobra.Command) {
		cmd.Flags().Uint64Var(&wh, "wh", 0, "Wh to buy (default: all of the offer)")
		cmd.Flags().Uint64Var(&maxPrice, "max-price", 0, "refuse to pay more than this many upv per Wh (0: no limit)")
	}, func(id uint64, _ *energyFlags) (tx.Msg, error) {
		return tx.MsgEnergyBuy{Offer: id, Wh: wh, MaxPricePerWh: maxPrice}, nil
	})
}

func newEnergyTransferCmd() *cobra.Command {
	var (
		wh uint64
		to string
	)
	return energyMsgCmd("transfer <cert>", "Give a bundle (or --wh of it) to another account", func(cmd *cobra.Command) {
		cmd.Flags().Uint64Var(&wh, "wh", 0, "Wh to transfer (default: the whole bundle)")
		cmd.Flags().StringVar(&to, "to", "", "recipient address or key name")
		cmd.MarkFlagRequired("to")
	}, func(id uint64, f *energyFlags) (tx.Msg, error) {
		a, err := f.resolveAddress(to)
		if err != nil {
			return nil, err
		}
		return tx.MsgEnergyTransfer{Cert: id, Wh: wh, To: a}, nil
	})
}

func newEnergySplitCmd() *cobra.Command {
	var wh uint64
	return energyMsgCmd("split <cert>", "Split --wh off a bundle into a new bundle", func(cmd *cobra.Command) {
		cmd.Flags().Uint64Var(&wh, "wh", 0, "Wh of the new bundle")
		cmd.MarkFlagRequired("wh")
	}, func(id uint64, _ *energyFlags) (tx.Msg, error) { return tx.MsgEnergySplit{Cert: id, Wh: wh}, nil })
}

func newEnergyRetireCmd() *cobra.Command {
	var (
		wh, consumption uint64
		claim, job      string
		zone, hour      string
	)
	return energyMsgCmd("retire <cert>", "Retire --wh of a bundle against a consumption claim (a job or any reference) of --consumption-wh in --zone at --hour",
		func(cmd *cobra.Command) {
			cmd.Flags().Uint64Var(&wh, "wh", 0, "Wh to retire")
			cmd.Flags().StringVar(&job, "job", "", "the job the energy was used by (claim reference job:<id>)")
			cmd.Flags().StringVar(&claim, "claim", "", "any other consumption claim reference")
			cmd.Flags().StringVar(&zone, "zone", "", "zone where the energy was consumed")
			cmd.Flags().StringVar(&hour, "hour", "", "UTC hour of the consumption, e.g. 2026-06-01T12")
			cmd.Flags().Uint64Var(&consumption, "consumption-wh", 0, "Wh consumed by the claim (retirements never exceed it)")
			cmd.MarkFlagRequired("wh")
			cmd.MarkFlagRequired("zone")
			cmd.MarkFlagRequired("hour")
			cmd.MarkFlagRequired("consumption-wh")
		},
		func(id uint64, _ *energyFlags) (tx.Msg, error) {
			ref := claim
			switch {
			case job != "" && claim != "":
				return nil, errors.New("pass --job or --claim, not both")
			case job != "":
				ref = "job:" + job
			case claim == "":
				return nil, errors.New("pass --job <id> or --claim <reference>")
			}
			h, err := parseEnergyHour(hour)
			if err != nil {
				return nil, err
			}
			return tx.MsgEnergyRetire{Cert: id, Wh: wh, Claim: ref, Zone: zone, Hour: h, ConsumptionWh: consumption}, nil
		})
}

// --- oracles and intensity ---

func newEnergyOraclesSetCmd() *cobra.Command {
	var (
		f       energyFlags
		oracles []string
	)
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Set the intensity oracles, signed with the DEVELOPMENT authority key (public seed: for local and test chains only); --from pays the fee",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = energyRun(&f, func(ctx context.Context, e *energyEnv, cmd *cobra.Command, _ []string) error {
		var p app.EnergyParams
		if err := e.query(ctx, app.QueryEnergyParams, "", &p); err != nil {
			return err
		}
		m := tx.MsgEnergySetOracles{Version: p.Version + 1}
		for _, o := range oracles {
			a, err := f.resolveAddress(o)
			if err != nil {
				return err
			}
			m.Oracles = append(m.Oracles, a)
		}
		auth := energy.DevAuthorityKey()
		m.AuthorityPubKey = auth.Public().(ed25519.PublicKey)
		m.AuthoritySig = ed25519.Sign(auth, m.SignBytes())
		_, err := e.send(ctx, cmd, m)
		return err
	})
	f.add(cmd, true)
	cmd.Flags().StringSliceVar(&oracles, "oracle", nil, "oracle address or key name (repeat)")
	cmd.MarkFlagRequired("oracle")
	return cmd
}

// energySeries is a parsed grid.csv.
type energySeries struct {
	Zone      string
	Synthetic bool
	Label     string
	Hours     []energy.HourValue
}

// parseEnergySeriesCSV reads "hour,gco2_per_kwh" rows (RFC 3339 hour
// starts, grams CO2e per kWh, decimals allowed). A "# synthetic: …" comment
// line marks the whole series synthetic.
func parseEnergySeriesCSV(r io.Reader) (energySeries, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return energySeries{}, err
	}
	var s energySeries
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			c := strings.TrimSpace(strings.TrimPrefix(line, "#"))
			if strings.HasPrefix(c, "synthetic") {
				s.Synthetic, s.Label = true, c
			}
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 2 {
			return s, fmt.Errorf("series csv line %d: want hour,gco2_per_kwh", i+1)
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(f[0]))
		if err != nil {
			if len(s.Hours) == 0 && strings.TrimSpace(f[0]) == "hour" {
				continue
			}
			return s, fmt.Errorf("series csv line %d: %w", i+1, err)
		}
		g, err := strconv.ParseFloat(strings.TrimSpace(f[1]), 64)
		if err != nil || g < 0 || g > 5000 || math.IsNaN(g) {
			return s, fmt.Errorf("series csv line %d: intensity %q must be 0..5000 g/kWh", i+1, f[1])
		}
		h := t.Unix()
		if h%3600 != 0 {
			return s, fmt.Errorf("series csv line %d: %s is not the start of an hour", i+1, f[0])
		}
		if n := len(s.Hours); n > 0 && h != s.Hours[n-1].Hour+3600 {
			return s, fmt.Errorf("series csv line %d: hours must be consecutive", i+1)
		}
		s.Hours = append(s.Hours, energy.HourValue{Hour: h, MgPerKWh: uint64(math.Round(g * 1000))})
	}
	if len(s.Hours) == 0 {
		return s, errors.New("series csv: no rows")
	}
	return s, nil
}

func writeEnergySeriesCSV(w io.Writer, s energy.Series) error {
	if _, err := fmt.Fprintf(w, "# %s\n# zone %s; intensity data: %s\nhour,gco2_per_kwh\n", s.Label, s.Zone, energy.DataAttribution()); err != nil {
		return err
	}
	for _, h := range s.Hours {
		if _, err := fmt.Fprintf(w, "%s,%s\n", time.Unix(h.Hour, 0).UTC().Format(time.RFC3339), strconv.FormatFloat(float64(h.MgPerKWh)/1000, 'f', 3, 64)); err != nil {
			return err
		}
	}
	return nil
}

func energyPostMsgs(zone string, s energySeries) []tx.MsgEnergyPostIntensity {
	var out []tx.MsgEnergyPostIntensity
	for i := 0; i < len(s.Hours); i += tx.MaxEnergyIntensityHours {
		end := min(i+tx.MaxEnergyIntensityHours, len(s.Hours))
		m := tx.MsgEnergyPostIntensity{Zone: zone, StartHour: s.Hours[i].Hour, Synthetic: s.Synthetic}
		for _, h := range s.Hours[i:end] {
			m.MgPerKWh = append(m.MgPerKWh, uint32(h.MgPerKWh))
		}
		out = append(out, m)
	}
	return out
}

func newEnergyIntensityPostCmd() *cobra.Command {
	var (
		f         energyFlags
		zone      string
		series    string
		synthetic bool
	)
	cmd := &cobra.Command{Use: "post", Short: "Post an hourly intensity series (hour,gco2_per_kwh) as a registered oracle", Args: cobra.NoArgs}
	cmd.RunE = energyRun(&f, func(ctx context.Context, e *energyEnv, cmd *cobra.Command, _ []string) error {
		fh, err := os.Open(series)
		if err != nil {
			return err
		}
		defer fh.Close()
		s, err := parseEnergySeriesCSV(fh)
		if err != nil {
			return err
		}
		s.Synthetic = s.Synthetic || synthetic
		for _, m := range energyPostMsgs(zone, s) {
			if _, err := e.send(ctx, cmd, m); err != nil {
				return err
			}
		}
		return nil
	})
	f.add(cmd, true)
	cmd.Flags().StringVar(&zone, "zone", "", "grid zone")
	cmd.Flags().StringVar(&series, "series", "", "CSV of hour,gco2_per_kwh")
	cmd.Flags().BoolVar(&synthetic, "synthetic", false, "mark the values synthetic (a '# synthetic' line in the file does too)")
	cmd.MarkFlagRequired("zone")
	cmd.MarkFlagRequired("series")
	return cmd
}

func newEnergyIntensitySynthCmd() *cobra.Command {
	var (
		zone, day, solar, out string
		year                  int
	)
	cmd := &cobra.Command{
		Use:   "synth",
		Short: "Write a SYNTHETIC hourly series for a day: the zone's real annual mean shaped by a solar profile (see docs/energy.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := time.Parse("2006-01-02", day)
			if err != nil {
				return fmt.Errorf("--day: %w", err)
			}
			var prof *energy.SolarProfile
			if solar != "" {
				fh, err := os.Open(solar)
				if err != nil {
					return err
				}
				defer fh.Close()
				if prof, err = energy.ParseSolarProfile(fh); err != nil {
					return err
				}
			}
			s, err := energy.SyntheticHourly(zone, year, d, prof)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out != "" && out != "-" {
				fh, err := os.Create(out)
				if err != nil {
					return err
				}
				defer fh.Close()
				w = fh
			}
			return writeEnergySeriesCSV(w, s)
		},
	}
	cmd.Flags().StringVar(&zone, "zone", "DE", "grid zone")
	cmd.Flags().IntVar(&year, "year", 2024, "year of the annual mean (2021..2025)")
	cmd.Flags().StringVar(&day, "day", time.Now().UTC().Format("2006-01-02"), "UTC day")
	cmd.Flags().StringVar(&solar, "solar", "", "@energyweb/solar-simulator data.csv (scripts/fixtures-energy.sh); default: a clear-sky half-sine")
	cmd.Flags().StringVarP(&out, "out", "o", "-", "output file")
	return cmd
}

func newEnergyIntensityShowCmd() *cobra.Command {
	var (
		f         energyFlags
		zone, day string
	)
	cmd := &cobra.Command{Use: "show", Short: "Show the posted hourly intensity of a zone for a UTC day", Args: cobra.NoArgs}
	cmd.RunE = energyRun(&f, func(ctx context.Context, e *energyEnv, cmd *cobra.Command, _ []string) error {
		d, err := time.Parse("2006-01-02", day)
		if err != nil {
			return fmt.Errorf("--day: %w", err)
		}
		hs, err := e.intensityDay(ctx, zone, d)
		if err != nil {
			return err
		}
		return emit(cmd.OutOrStdout(), f.json, hs, func(w io.Writer) {
			for _, h := range hs {
				tag := ""
				if h.Synthetic {
					tag = "  SYNTHETIC"
				}
				fmt.Fprintf(w, "%s  %8.1f gCO2e/kWh  oracle %s%s\n", energyHourText(h.Hour), float64(h.MgPerKWh)/1000, h.Oracle, tag)
			}
			if len(hs) == 0 {
				fmt.Fprintln(w, "no intensity posted for that day")
			}
		})
	})
	f.add(cmd, false)
	cmd.Flags().StringVar(&zone, "zone", "DE", "grid zone")
	cmd.Flags().StringVar(&day, "day", time.Now().UTC().Format("2006-01-02"), "UTC day")
	return cmd
}

func (e *energyEnv) intensityDay(ctx context.Context, zone string, day time.Time) ([]app.EnergyIntensity, error) {
	var out []app.EnergyIntensity
	for h := range 24 {
		var iv *app.EnergyIntensity
		if err := e.query(ctx, app.QueryEnergyIntensity, fmt.Sprintf("%s@%d", zone, day.Unix()+int64(h)*3600), &iv); err != nil {
			return nil, err
		}
		if iv != nil {
			out = append(out, *iv)
		}
	}
	return out, nil
}

// --- report ---

// energyReport is an account's day: production of its devices,
// consumption claims and the certificates retired for them.
type energyReport struct {
	Account       string                `json:"account"`
	Day           string                `json:"day"`
	Hours         []energyReportHour    `json:"hours"`
	ProductionWh  uint64                `json:"production_wh"`
	ConsumptionWh uint64                `json:"consumption_wh"`
	Matched247Wh  uint64                `json:"matched_247_wh"`
	Share247      float64               `json:"matched_247_share"`
	Annual        energy.Matching       `json:"annual_matching"`
	Intensity     []app.EnergyIntensity `json:"intensity,omitempty"`
	Synthetic     bool                  `json:"intensity_synthetic"`
}

type energyReportHour struct {
	Hour          int64  `json:"hour"`
	ProductionWh  uint64 `json:"production_wh"`
	ConsumptionWh uint64 `json:"consumption_wh"`
	Matched247Wh  uint64 `json:"matched_247_wh"`
	RetiredWh     uint64 `json:"retired_wh"`
}

func (e *energyEnv) report(ctx context.Context, addr tx.Address, day time.Time, zone string) (energyReport, error) {
	r := energyReport{Account: addr.String(), Day: day.Format("2006-01-02")}
	for h := range 24 {
		r.Hours = append(r.Hours, energyReportHour{Hour: day.Unix() + int64(h)*3600})
	}
	in := func(hour int64) (int, bool) {
		i := int((hour - day.Unix()) / 3600)
		return i, hour >= day.Unix() && i < 24
	}
	var devs []string
	if err := e.query(ctx, app.QueryEnergyDevices, addr.String(), &devs); err != nil {
		return r, err
	}
	for _, d := range devs {
		for i := range r.Hours {
			var dh *app.EnergyDeviceHour
			if err := e.query(ctx, app.QueryEnergyDeviceHr, fmt.Sprintf("%s@%d", d, r.Hours[i].Hour), &dh); err != nil {
				return r, err
			}
			if dh != nil {
				r.Hours[i].ProductionWh += dh.Wh
				r.ProductionWh += dh.Wh
			}
		}
	}
	var refs []string
	if err := e.query(ctx, app.QueryEnergyClaims, addr.String(), &refs); err != nil {
		return r, err
	}
	var cons, sup []energy.Slot
	for _, ref := range refs {
		var cl *app.EnergyClaim
		if err := e.query(ctx, app.QueryEnergyClaim, addr.String()+"/"+ref, &cl); err != nil {
			return r, err
		}
		if cl == nil {
			continue
		}
		if time.Unix(cl.Hour, 0).UTC().Year() != day.Year() {
			continue
		}
		cons = append(cons, energy.Slot{Zone: cl.Zone, Hour: cl.Hour, Wh: cl.ConsumptionWh})
		for _, rt := range cl.Retirements {
			sup = append(sup, energy.Slot{Zone: rt.Zone, Hour: rt.Hour, Wh: rt.Wh})
		}
		if i, ok := in(cl.Hour); ok {
			r.Hours[i].ConsumptionWh += cl.ConsumptionWh
			r.Hours[i].Matched247Wh += cl.Matched247Wh
			r.Hours[i].RetiredWh += cl.RetiredWh
			r.ConsumptionWh += cl.ConsumptionWh
			r.Matched247Wh += cl.Matched247Wh
		}
	}
	// Annual: the year's claims against the certificates retired for them,
	// per zone and year; never called 24/7.
	r.Annual = energy.Match(cons, sup)
	r.Annual.Hours = nil
	if r.ConsumptionWh > 0 {
		r.Share247 = float64(r.Matched247Wh) / float64(r.ConsumptionWh)
	}
	if zone != "" {
		iv, err := e.intensityDay(ctx, zone, day)
		if err != nil {
			return r, err
		}
		r.Intensity = iv
		for _, h := range iv {
			r.Synthetic = r.Synthetic || h.Synthetic
		}
	}
	return r, nil
}

func (r energyReport) chart() chart.Report {
	c := chart.Report{
		Title: fmt.Sprintf("Provena energy: %s on %s (UTC)", short(r.Account), r.Day),
		Notes: []string{fmt.Sprintf("production %d Wh, consumption %d Wh; 24/7 matched %.1f%% (same zone and hour); annual matching %.1f%% (reported separately)",
			r.ProductionWh, r.ConsumptionWh, 100*r.Share247, 100*r.Annual.ShareAnnual())},
	}
	if r.Synthetic {
		c.Notes = append(c.Notes, "grid intensity posted for this day is SYNTHETIC (a model, not data)")
	}
	for _, h := range r.Hours {
		c.Hours = append(c.Hours, chart.Hour{Start: time.Unix(h.Hour, 0), ProductionWh: h.ProductionWh, ConsumptionWh: h.ConsumptionWh, MatchedWh: h.Matched247Wh})
	}
	return c
}

func printEnergyReport(w io.Writer, r energyReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "HOUR (UTC)\tPRODUCED WH\tCONSUMED WH\tRETIRED WH\tMATCHED 24/7 WH\tGCO2E/KWH\t")
	iv := map[int64]app.EnergyIntensity{}
	for _, h := range r.Intensity {
		iv[h.Hour] = h
	}
	for _, h := range r.Hours {
		in := "-"
		if v, ok := iv[h.Hour]; ok {
			in = strconv.FormatFloat(float64(v.MgPerKWh)/1000, 'f', 1, 64)
			if v.Synthetic {
				in += " (synthetic)"
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t\n", energyHourText(h.Hour), h.ProductionWh, h.ConsumptionWh, h.RetiredWh, h.Matched247Wh, in)
	}
	tw.Flush()
	fmt.Fprintf(w, "production %d Wh, consumption %d Wh, 24/7 matched %d Wh (%.1f%%)\n", r.ProductionWh, r.ConsumptionWh, r.Matched247Wh, 100*r.Share247)
	fmt.Fprintf(w, "annual matching (same zone and year, not 24/7): %d of %d Wh (%.1f%%)\n", r.Annual.AnnualWh, r.Annual.ConsumptionWh, 100*r.Annual.ShareAnnual())
}

func newEnergyReportCmd() *cobra.Command {
	var (
		f                    energyFlags
		account, day, svg, z string
	)
	cmd := &cobra.Command{Use: "report", Short: "An account's hourly production, consumption and 24/7-matched share for a UTC day; --svg draws it", Args: cobra.NoArgs}
	cmd.RunE = energyRun(&f, func(ctx context.Context, e *energyEnv, cmd *cobra.Command, _ []string) error {
		addr, err := f.resolveAddress(account)
		if err != nil {
			return err
		}
		d, err := time.Parse("2006-01-02", day)
		if err != nil {
			return fmt.Errorf("--day: %w", err)
		}
		r, err := e.report(ctx, addr, d, z)
		if err != nil {
			return err
		}
		if svg != "" {
			fh, err := os.Create(svg)
			if err != nil {
				return err
			}
			if err := chart.WriteSVG(fh, r.chart(), 26*vg.Centimeter, 13*vg.Centimeter); err != nil {
				fh.Close()
				return err
			}
			if err := fh.Close(); err != nil {
				return err
			}
		}
		return emit(cmd.OutOrStdout(), f.json, r, func(w io.Writer) {
			printEnergyReport(w, r)
			if svg != "" {
				fmt.Fprintf(w, "chart written to %s\n", svg)
			}
		})
	})
	f.add(cmd, false)
	cmd.Flags().StringVar(&account, "account", "", "account address or key name")
	cmd.Flags().StringVar(&day, "day", time.Now().UTC().Format("2006-01-02"), "UTC day")
	cmd.Flags().StringVar(&svg, "svg", "", "write the chart to this SVG file")
	cmd.Flags().StringVar(&z, "zone", "", "also show this zone's posted intensity")
	cmd.MarkFlagRequired("account")
	return cmd
}

// --- estimate ---

func newEnergyEstimateCmd() *cobra.Command {
	var (
		family, zone               string
		vcpus, machineVCPUs        uint32
		wall, cpu                  time.Duration
		pue                        float64
		year                       int
		inferences, lifespan, embG uint64
		asJSON                     bool
	)
	cmd := &cobra.Command{
		Use:   "estimate",
		Short: "Estimate a job's energy (CCF coefficient model) and its SCI per inference with the zone's annual intensity",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ev, err := energy.NewEstimated(family, vcpus, uint64(wall.Milliseconds()), uint64(cpu.Milliseconds()), uint32(math.Round(pue*1000)))
			if err != nil {
				return err
			}
			zi, err := energy.AnnualIntensity(zone, year)
			if err != nil {
				return err
			}
			_, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			start := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
			r := &energy.Receipt{
				JobID: "estimate", Worker: priv.Public().(ed25519.PublicKey), Zone: zone,
				StartMs: start.UnixMilli(), EndMs: start.UnixMilli() + wall.Milliseconds(), Inferences: inferences, Evidence: ev,
				Intensity: energy.Intensity{MgPerKWh: zi.MgPerKWh, Source: energy.SourceAnnual, Ref: zi.Ref()},
				Embodied:  energy.Embodied{TotalG: embG, LifespanHours: lifespan, ReservedVCPUs: vcpus, TotalVCPUs: machineVCPUs},
			}
			j, err := r.JSON()
			if err != nil {
				return err
			}
			return emit(cmd.OutOrStdout(), asJSON, j, func(w io.Writer) {
				fmt.Fprintf(w, "method: ESTIMATED (Cloud Carbon Footprint coefficients for %s: %.2f..%.2f W per vCPU, utilisation %.0f%%, PUE %.3f)\n",
					ev.Family, float64(ev.MinMilliW)/1000, float64(ev.MaxMilliW)/1000, 100*ev.Utilisation(), float64(ev.PUEMilli)/1000)
				fmt.Fprintf(w, "energy E: %.3f Wh\n", float64(j.SCI.EnergyMWh)/1000)
				fmt.Fprintf(w, "intensity I: %.0f gCO2e/kWh (%s annual average, %s)\n", float64(zi.MgPerKWh)/1000, zone, zi.Ref())
				fmt.Fprintf(w, "E×I %.3f g + M %.3f g = %.3f g; SCI %.3f mgCO2e per inference (R = %d)\n",
					float64(j.SCI.OperationalUg)/1e6, float64(j.SCI.EmbodiedUg)/1e6, float64(j.SCI.TotalUg)/1e6, float64(j.SCI.PerInferenceUg)/1000, inferences)
				fmt.Fprintf(w, "intensity data: %s\n", energy.DataAttribution())
			})
		},
	}
	cmd.Flags().StringVar(&family, "cpu", "Unknown", "CPU family (CCF coefficients); e.g. \"AMD EPYC 2nd Gen\"")
	cmd.Flags().Uint32Var(&vcpus, "vcpus", 1, "vCPUs reserved for the job")
	cmd.Flags().Uint32Var(&machineVCPUs, "machine-vcpus", 64, "vCPUs of the whole machine (embodied carbon share)")
	cmd.Flags().DurationVar(&wall, "wall", time.Second, "job wall time")
	cmd.Flags().DurationVar(&cpu, "cpu-time", time.Second, "job CPU time (user+system)")
	cmd.Flags().Float64Var(&pue, "pue", float64(energy.DefaultPUEMilli)/1000, "power usage effectiveness")
	cmd.Flags().StringVar(&zone, "zone", "DE", "grid zone, one of: "+energySortedZones())
	cmd.Flags().IntVar(&year, "year", 2024, "year of the annual intensity")
	cmd.Flags().Uint64Var(&inferences, "inferences", 1, "inferences the job served (R)")
	cmd.Flags().Uint64Var(&embG, "embodied-g", 0, "embodied carbon of the whole machine in gCO2e (no default: take it from the machine's LCA)")
	cmd.Flags().Uint64Var(&lifespan, "lifespan-h", energy.DefaultLifespanHours, "expected machine lifespan in hours (CCF default: 4 years)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// energySortedZones is for help texts.
func energySortedZones() string {
	z := energy.Zones()
	sort.Strings(z)
	return strings.Join(z, " ")
}

// --- worker profile and receipts ---

func newEnergyWorkerProfileCmd() *cobra.Command {
	var (
		f                   energyFlags
		zone, family        string
		vcpus, machineVCPUs uint32
		pue                 float64
		embG, lifespan      uint64
	)
	cmd := &cobra.Command{Use: "worker-profile", Short: "Record --from's worker energy profile on chain (zone, CPU family, vCPUs, PUE, embodied carbon)", Args: cobra.NoArgs}
	cmd.RunE = energyRun(&f, func(ctx context.Context, e *energyEnv, cmd *cobra.Command, _ []string) error {
		m := tx.MsgEnergyWorkerProfile{Zone: zone, CPUFamily: family, VCPUs: vcpus, MachineVCPUs: machineVCPUs, PUEMilli: uint32(math.Round(pue * 1000)), EmbodiedG: embG, LifespanHours: lifespan}
		if err := m.ValidateBasic(); err != nil {
			return err
		}
		_, err := e.send(ctx, cmd, m)
		return err
	})
	f.add(cmd, true)
	cmd.Flags().StringVar(&zone, "zone", "", "grid zone the worker runs in")
	cmd.Flags().StringVar(&family, "cpu", "", "CPU family (CCF coefficients), e.g. \"AMD EPYC 2nd Gen\"")
	cmd.Flags().Uint32Var(&vcpus, "vcpus", 1, "vCPUs a job reserves")
	cmd.Flags().Uint32Var(&machineVCPUs, "machine-vcpus", 1, "vCPUs of the machine")
	cmd.Flags().Float64Var(&pue, "pue", float64(energy.DefaultPUEMilli)/1000, "power usage effectiveness of the site")
	cmd.Flags().Uint64Var(&embG, "embodied-g", 0, "embodied carbon of the machine, gCO2e (from its LCA)")
	cmd.Flags().Uint64Var(&lifespan, "lifespan-h", energy.DefaultLifespanHours, "expected lifespan in hours")
	cmd.MarkFlagRequired("zone")
	cmd.MarkFlagRequired("cpu")
	return cmd
}

func newEnergyReceiptCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "receipt", Short: "Energy receipts of opML jobs"}
	var sf energyFlags
	show := &cobra.Command{Use: "show <job>", Short: "Show a job's stored energy receipt: Wh, method, location-based gCO2e, SCI per inference", Args: cobra.ExactArgs(1)}
	show.RunE = energyRun(&sf, func(ctx context.Context, e *energyEnv, cmd *cobra.Command, args []string) error {
		var rec *app.EnergyReceiptRecord
		if err := e.query(ctx, app.QueryEnergyReceipt, args[0], &rec); err != nil {
			return err
		}
		if rec == nil {
			return fmt.Errorf("job %s has no energy receipt", args[0])
		}
		var claimant string
		if err := e.query(ctx, app.QueryEnergyJobClaim, args[0], &claimant); err != nil {
			return err
		}
		var cl *app.EnergyClaim
		if claimant != "" {
			if err := e.query(ctx, app.QueryEnergyClaim, claimant+"/job:"+args[0], &cl); err != nil {
				return err
			}
		}
		out := struct {
			Receipt *app.EnergyReceiptRecord `json:"receipt"`
			Claim   *app.EnergyClaim         `json:"claim,omitempty"`
		}{rec, cl}
		return emit(cmd.OutOrStdout(), sf.json, out, func(w io.Writer) {
			s := rec.SCI
			fmt.Fprintf(w, "job %d, worker %s, zone %s, hour %s UTC\n", rec.Job, rec.Worker, rec.Zone, energyHourText(rec.Hour))
			fmt.Fprintf(w, "energy %.3f Wh (%s)\n", float64(s.EnergyMWh)/1000, strings.ToUpper(rec.Method))
			fmt.Fprintf(w, "location-based: E×I %.3f g + embodied %.3f g = %.3f gCO2e; SCI %.3f mgCO2e per inference (R = %d)\n",
				float64(s.OperationalUg)/1e6, float64(s.EmbodiedUg)/1e6, float64(s.TotalUg)/1e6, float64(s.PerInferenceUg)/1000, s.Inferences)
			if cl != nil {
				fmt.Fprintf(w, "certificates retired by %s: %d Wh, of which %d Wh matched 24/7 (same zone and hour); the SCI above is not lowered by them\n", claimant, cl.RetiredWh, cl.Matched247Wh)
				if r, err := hex.DecodeString(rec.Receipt); err == nil {
					if rc, err := energy.DecodeReceipt(r); err == nil {
						if mk, err := energy.MarketBased(s, cl.RetiredWh, cl.Matched247Wh, rc.Intensity.MgPerKWh); err == nil {
							fmt.Fprintf(w, "market-based (reported beside the SCI): %.3f Wh uncovered × %.0f g/kWh = %.3f gCO2e operational\n", float64(mk.UncoveredMWh)/1000, float64(mk.ResidualMgKWh)/1000, float64(mk.OperationalUg)/1e6)
						}
					}
				}
			} else {
				fmt.Fprintln(w, "no certificates retired for this job")
			}
		})
	})
	sf.add(show, false)
	cmd.AddCommand(show, newEnergyReceiptPostCmd())
	return cmd
}

func newEnergyReceiptPostCmd() *cobra.Command {
	var (
		f          energyFlags
		job        uint64
		start      string
		wall, cpu  time.Duration
		inferences uint64
	)
	cmd := &cobra.Command{
		Use:   "post",
		Short: "Sign and store an ESTIMATED energy receipt for an opML job run by --from (CCF model from the on-chain worker profile, the chain's intensity)",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = energyRun(&f, func(ctx context.Context, e *energyEnv, cmd *cobra.Command, _ []string) error {
		kr, err := f.keyring(false)
		if err != nil {
			return err
		}
		priv, err := kr.PrivateKey(f.from)
		if err != nil {
			return err
		}
		me := tx.AddressFromPubKey(priv.Public().(ed25519.PublicKey))
		var prof *app.EnergyWorkerProfile
		if err := e.query(ctx, app.QueryEnergyWorker, me.String(), &prof); err != nil {
			return err
		}
		if prof == nil {
			return fmt.Errorf("%s has no energy profile (provena energy worker-profile)", me)
		}
		t0, err := time.Parse(time.RFC3339, start)
		if err != nil {
			return fmt.Errorf("--start: %w", err)
		}
		ev, err := energy.NewEstimated(prof.CPUFamily, prof.VCPUs, uint64(wall.Milliseconds()), uint64(cpu.Milliseconds()), prof.PUEMilli)
		if err != nil {
			return err
		}
		hour := energy.HourOf(t0.Unix())
		in, err := e.chainIntensity(ctx, prof.Zone, hour)
		if err != nil {
			return err
		}
		r := &energy.Receipt{
			JobID: strconv.FormatUint(job, 10), Worker: priv.Public().(ed25519.PublicKey), Zone: prof.Zone,
			StartMs: t0.UnixMilli(), EndMs: t0.UnixMilli() + wall.Milliseconds(), Inferences: inferences, Evidence: ev, Intensity: in,
			Embodied: energy.Embodied{TotalG: prof.EmbodiedG, LifespanHours: prof.LifespanHours, ReservedVCPUs: prof.VCPUs, TotalVCPUs: prof.MachineVCPUs},
		}
		if err := r.Sign(priv); err != nil {
			return err
		}
		b, err := r.Encode()
		if err != nil {
			return err
		}
		_, err = e.sendWith(ctx, cmd, priv, tx.MsgEnergyReceipt{Receipt: b})
		return err
	})
	f.add(cmd, true)
	cmd.Flags().Uint64Var(&job, "job", 0, "opML job id")
	cmd.Flags().StringVar(&start, "start", "", "when the job started (RFC 3339)")
	cmd.Flags().DurationVar(&wall, "wall", 0, "job wall time")
	cmd.Flags().DurationVar(&cpu, "cpu-time", 0, "job CPU time")
	cmd.Flags().Uint64Var(&inferences, "inferences", 1, "inferences served (R)")
	for _, n := range []string{"job", "start", "wall"} {
		cmd.MarkFlagRequired(n)
	}
	return cmd
}

// chainIntensity is the intensity the ledger expects in a receipt for zone
// and hour: the posted oracle value, else the annual average.
func (e *energyEnv) chainIntensity(ctx context.Context, zone string, hour int64) (energy.Intensity, error) {
	return worker.ChainIntensity(func(path, data string, out any) error { return e.query(ctx, path, data, out) }, zone, hour)
}

// A worker started by `provena worker start` meters every job and sends
// its energy receipt (worker.EnergyClient).
var _ worker.EnergyClient = (*nodeClient)(nil)

// EnergyProfile implements worker.EnergyClient.
func (c *nodeClient) EnergyProfile() (*app.EnergyWorkerProfile, error) {
	var p *app.EnergyWorkerProfile
	err := c.e.query(c.ctx, app.QueryEnergyWorker, c.e.me.String(), &p)
	return p, err
}

// EnergyIntensity implements worker.EnergyClient.
func (c *nodeClient) EnergyIntensity(zone string, hour int64) (energy.Intensity, error) {
	return worker.ChainIntensity(func(path, data string, out any) error { return c.e.query(c.ctx, path, data, out) }, zone, hour)
}

// SignReceipt implements worker.EnergyClient.
func (c *nodeClient) SignReceipt(r *energy.Receipt) error {
	r.Worker = c.e.priv.Public().(ed25519.PublicKey)
	return r.Sign(c.e.priv)
}

// --- bench ---

func init() { benchCommands = append(benchCommands, newBenchEnergyCmd) }

// energyBenchResult is what provena bench energy measures.
type energyBenchResult struct {
	Devices          int              `json:"devices"`
	IssuedBundles    int              `json:"issued_bundles"`
	IssueSeconds     float64          `json:"issue_seconds"`
	IssuancesPerSec  float64          `json:"issuances_per_sec"`
	Retirements      int              `json:"retirements"`
	RetireSeconds    float64          `json:"retire_seconds"`
	RetiresPerSec    float64          `json:"retirements_per_sec"`
	ReceiptUs        float64          `json:"receipt_accounting_us"`
	RAPLReadUs       float64          `json:"rapl_read_us,omitempty"`
	RAPL             string           `json:"rapl"`
	MinJobMsFor1Pct  float64          `json:"min_job_ms_for_1pct"`
	ReferenceJobMs   float64          `json:"reference_job_ms"`
	ReferenceOverPct float64          `json:"reference_overhead_pct"`
	Node             *energyNodeBench `json:"node,omitempty"`
}

func newBenchEnergyCmd() *cobra.Command {
	var (
		devices, perBlock int
		asJSON, noNode    bool
	)
	cmd := &cobra.Command{
		Use:   "energy",
		Short: "Certificate issuances and retirements executed and committed per second by the ledger (in process, no consensus), and the per-job cost of energy accounting",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := runEnergyBench(devices, perBlock)
			if err != nil {
				return err
			}
			if !noNode {
				nb, err := runEnergyNodeBench(cmd.Context(), devices)
				if err != nil {
					return fmt.Errorf("node bench: %w", err)
				}
				r.Node = &nb
			}
			return emit(cmd.OutOrStdout(), asJSON, r, func(w io.Writer) {
				fmt.Fprintf(w, "ledger, in process (IAVL commit each block, no CometBFT): %d devices, %d txs per block\n", r.Devices, perBlock)
				fmt.Fprintf(w, "  issuance:   %d bundles in %.2f s = %.0f certificate issuances/s (24 hourly readings per tx)\n", r.IssuedBundles, r.IssueSeconds, r.IssuancesPerSec)
				fmt.Fprintf(w, "  retirement: %d in %.2f s = %.0f retirements/s (one per tx)\n", r.Retirements, r.RetireSeconds, r.RetiresPerSec)
				if r.Node != nil {
					fmt.Fprintf(w, "one node (CometBFT in process, 1 validator, %d ms blocks, txs broadcast to the HTTP API, timed to commit):\n", r.Node.BlockTimeMs)
					fmt.Fprintf(w, "  issuance:   %.0f certificate issuances/s (%d bundles in %.2f s)\n", r.Node.IssuancesPerSec, r.IssuedBundles, r.Node.IssueSeconds)
					fmt.Fprintf(w, "  retirement: %.0f retirements/s (%d in %.2f s)\n", r.Node.RetiresPerSec, r.Retirements, r.Node.RetireSeconds)
				}
				fmt.Fprintf(w, "per-job accounting (estimate, receipt, SCI, sign, encode, tx): %.1f µs; RAPL: %s", r.ReceiptUs, r.RAPL)
				if r.RAPLReadUs > 0 {
					fmt.Fprintf(w, " (%.1f µs per read)", r.RAPLReadUs)
				}
				fmt.Fprintf(w, "\n  under 1%% of the job's time for any job longer than %.2f ms; on the reference job (%.1f ms of float work) it is %.3f%%\n", r.MinJobMsFor1Pct, r.ReferenceJobMs, r.ReferenceOverPct)
			})
		},
	}
	cmd.Flags().IntVar(&devices, "devices", 400, "production devices (one account each)")
	cmd.Flags().IntVar(&perBlock, "per-block", 200, "transactions per block")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&noNode, "no-node", false, "skip the run through a real node")
	return cmd
}

func runEnergyBench(devices, perBlock int) (energyBenchResult, error) {
	res := energyBenchResult{Devices: devices}
	a := app.OpenMem()
	defer a.Close()
	keysOf := make([]ed25519.PrivateKey, devices)
	meters := make([]ed25519.PrivateKey, devices)
	for i := range keysOf {
		keysOf[i] = energyBenchKey(10_000 + i)
		meters[i] = energyBenchKey(20_000 + i)
	}
	params := app.DefaultParams()
	if _, err := a.InitChain(energyBenchChain, energyBenchGenesis(params, keysOf)); err != nil {
		return res, err
	}
	nonces := make([]uint64, devices)
	height := int64(0)
	run := func(txs [][]byte) error {
		for i := 0; i < len(txs); i += perBlock {
			height++
			br, err := a.ExecuteBlock(app.Block{Height: height, Time: time.Unix(1_780_000_000+height, 0), Txs: txs[i:min(i+perBlock, len(txs))]})
			if err != nil {
				return err
			}
			for _, r := range br.TxResults {
				if r.Code != app.CodeOK {
					return fmt.Errorf("bench tx failed: %d %s", r.Code, r.Log)
				}
			}
			if _, err := a.Commit(); err != nil {
				return err
			}
		}
		return nil
	}
	sign := func(i int, m tx.Msg) ([]byte, error) {
		b, err := tx.Sign(keysOf[i], energyBenchChain, nonces[i], params.MinFee, m)
		nonces[i]++
		return b, err
	}
	var setup [][]byte
	for i := range devices {
		b, err := sign(i, tx.MsgEnergyRegisterDevice{Tech: "solar", CapacityW: 5000, Zone: "DE", MeterPubKey: meters[i].Public().(ed25519.PublicKey)})
		if err != nil {
			return res, err
		}
		setup = append(setup, b)
	}
	if err := run(setup); err != nil {
		return res, err
	}
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Unix()
	var issue [][]byte
	for i := range devices {
		id := energy.DeviceIDFromMeterKey(meters[i].Public().(ed25519.PublicKey))
		m := tx.MsgEnergySubmitReadings{Device: id}
		var cum uint64
		for h := int64(0); h < 24; h++ {
			cum += 1000
			r := energy.Reading{Device: id, Start: day + h*3600, End: day + (h+1)*3600, Wh: 1000, CumulativeWh: cum}
			sig, err := energy.SignReading(meters[i], energyBenchChain, r)
			if err != nil {
				return res, err
			}
			m.Readings = append(m.Readings, tx.EnergySignedReading{Start: r.Start, End: r.End, Wh: r.Wh, CumulativeWh: r.CumulativeWh, Signature: sig})
		}
		b, err := sign(i, m)
		if err != nil {
			return res, err
		}
		issue = append(issue, b)
	}
	t0 := time.Now()
	if err := run(issue); err != nil {
		return res, err
	}
	res.IssueSeconds = time.Since(t0).Seconds()
	res.IssuedBundles = devices * 24
	res.IssuancesPerSec = float64(res.IssuedBundles) / res.IssueSeconds
	// Bundle ids are sequential per device in issue order: device i holds
	// 24i+1 .. 24i+24. Retire each device's first 5 hours in full.
	var retire [][]byte
	for i := range devices {
		for h := range 5 {
			id := uint64(24*i + h + 1)
			b, err := sign(i, tx.MsgEnergyRetire{Cert: id, Wh: 1000, Claim: fmt.Sprintf("bench-%d", h), Zone: "DE", Hour: day + int64(h)*3600, ConsumptionWh: 1000})
			if err != nil {
				return res, err
			}
			retire = append(retire, b)
		}
	}
	t0 = time.Now()
	if err := run(retire); err != nil {
		return res, err
	}
	res.RetireSeconds = time.Since(t0).Seconds()
	res.Retirements = len(retire)
	res.RetiresPerSec = float64(res.Retirements) / res.RetireSeconds

	// Per-job accounting: what a worker adds to a job.
	worker := energyBenchKey(1)
	const n = 2000
	t0 = time.Now()
	for i := range n {
		ev, err := energy.NewEstimated("AMD EPYC 2nd Gen", 4, 1000+uint64(i), 3000, 1200)
		if err != nil {
			return res, err
		}
		r := &energy.Receipt{
			JobID: strconv.Itoa(i), Worker: worker.Public().(ed25519.PublicKey), Zone: "DE", StartMs: 0, EndMs: 1000 + int64(i), Inferences: 1, Evidence: ev,
			Intensity: energy.Intensity{MgPerKWh: 341_000, Source: energy.SourceAnnual}, Embodied: energy.Embodied{TotalG: 1_200_000, LifespanHours: 35040, ReservedVCPUs: 4, TotalVCPUs: 64},
		}
		if err := r.Sign(worker); err != nil {
			return res, err
		}
		if _, err := energy.ComputeSCI(r); err != nil {
			return res, err
		}
		b, err := r.Encode()
		if err != nil {
			return res, err
		}
		if _, err := tx.Sign(worker, energyBenchChain, uint64(i), params.MinFee, tx.MsgEnergyReceipt{Receipt: b}); err != nil {
			return res, err
		}
	}
	res.ReceiptUs = float64(time.Since(t0).Microseconds()) / n
	res.RAPL = "not readable here (estimates are used)"
	if rp, err := energy.OpenRAPL(energy.DefaultPowercapRoot); err == nil {
		t0 = time.Now()
		for range n {
			if _, err := rp.Read(); err != nil {
				return res, err
			}
		}
		res.RAPLReadUs = float64(time.Since(t0).Microseconds()) / n
		res.RAPL = "readable: " + strings.Join(rp.Zones(), ", ")
	}
	perJobUs := res.ReceiptUs + 2*res.RAPLReadUs
	res.MinJobMsFor1Pct = perJobUs * 100 / 1000
	// A reference job: a fixed amount of float work standing in for a small
	// inference, so the overhead is a measured ratio on this machine.
	t0 = time.Now()
	x := 0.0
	for i := range 20_000_000 {
		x += math.Sqrt(float64(i))
	}
	res.ReferenceJobMs = float64(time.Since(t0).Microseconds()) / 1000
	if x < 0 {
		return res, errors.New("unreachable")
	}
	res.ReferenceOverPct = perJobUs / 1000 / res.ReferenceJobMs * 100
	return res, nil
}

const energyBenchChain = "provena-energy-bench"

func energyBenchKey(i int) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(fmt.Sprintf("provena energy bench key %d", i)))
	return ed25519.NewKeyFromSeed(seed[:])
}

func energyBenchGenesis(p app.Params, ks []ed25519.PrivateKey) []byte {
	g := app.Genesis{Params: p, Modules: map[string]json.RawMessage{"energy": app.DevEnergyGenesis()}}
	for _, k := range ks {
		g.Accounts = append(g.Accounts, app.GenesisAccount{Address: tx.AddressFromPubKey(k.Public().(ed25519.PublicKey)).String(), Balance: 1_000_000_000})
	}
	b, _ := json.Marshal(g)
	return b
}

// --- demo ---

func newEnergyDemoCmd() *cobra.Command {
	var (
		solar, svg string
		keep       bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "One simulated day on a one-validator chain: a solar producer's certificates issued hour by hour, bought by a worker and retired against its jobs' energy; 24/7 share printed and charted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if solar == "" {
				if _, err := os.Stat(energyDefaultSolar); err == nil {
					solar = energyDefaultSolar
				}
			}
			_, err := runEnergyDemo(cmd.Context(), cmd.OutOrStdout(), solar, svg, keep)
			return err
		},
	}
	cmd.Flags().StringVar(&solar, "solar", "", "solar profile data.csv of @energyweb/solar-simulator (default: "+energyDefaultSolar+" if present, else a clear-sky half-sine)")
	cmd.Flags().StringVar(&svg, "svg", "energy-demo.svg", "write the day's chart here")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary home")
	return cmd
}

const energyDefaultSolar = ".cache/fixtures-energy/solar/data.csv"

// energyDemo parameters: a small rooftop array and one busy worker, sized so
// that production covers the worker around noon only.
const (
	energyDemoCapacityW = 150
	energyDemoVCPUs     = 64
	energyDemoBusyPct   = 60
	energyDemoPrice     = 2 // upv per Wh
)

func runEnergyDemo(parent context.Context, w io.Writer, solarPath, svgPath string, keep bool) (energyReport, error) {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, 5*time.Minute)
	defer cancel()
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var shape [24]float64
	shapeName := "clear-sky half-sine (no solar profile given)"
	if solarPath != "" {
		fh, err := os.Open(solarPath)
		if err != nil {
			return energyReport{}, err
		}
		prof, err := energy.ParseSolarProfile(fh)
		fh.Close()
		if err != nil {
			return energyReport{}, err
		}
		shape = prof.Day(day.YearDay())
		shapeName = "the 2015 solar profile of @energyweb/solar-simulator (GPL-3.0, not redistributed), day " + strconv.Itoa(day.YearDay())
	} else {
		for h := range shape {
			if x := (float64(h) + 0.5 - 6) / 12; x > 0 && x < 1 {
				shape[h] = math.Sin(math.Pi * x)
			}
		}
	}

	home, err := os.MkdirTemp("", "provena-energy-demo-")
	if err != nil {
		return energyReport{}, err
	}
	if !keep {
		defer os.RemoveAll(home)
	}
	ports, err := node.FreePorts(1)
	if err != nil {
		return energyReport{}, err
	}
	params := app.DefaultParams()
	params.BlockTimeMs = 50
	if _, err := node.Init(home, node.InitOptions{ChainID: "provena-energy-demo", Params: &params, Ports: ports}); err != nil {
		return energyReport{}, err
	}
	n, err := node.Start(ctx, home, node.StartOptions{LogWriter: io.Discard})
	if err != nil {
		return energyReport{}, err
	}
	defer n.Stop()
	f := &energyFlags{ledgerFlags: ledgerFlags{home: home, keyringBackend: keys.BackendTest}, fee: params.MinFee}
	e, err := f.env()
	if err != nil {
		return energyReport{}, err
	}
	// Block 1 can be stored before the app commits it: wait for block 2,
	// after which state is queryable.
	if _, err := e.c.WaitHeight(ctx, 2); err != nil {
		return energyReport{}, err
	}
	kr, err := keys.Open(keys.Dir(home), keys.BackendTest)
	if err != nil {
		return energyReport{}, err
	}
	privs := map[string]ed25519.PrivateKey{}
	for _, name := range []string{"alice", "solar1", "w1", "oracle1"} {
		if name != "alice" {
			if _, err := kr.Add(name); err != nil {
				return energyReport{}, err
			}
		}
		if privs[name], err = kr.PrivateKey(name); err != nil {
			return energyReport{}, err
		}
	}
	addr := func(name string) tx.Address { return tx.AddressFromPubKey(privs[name].Public().(ed25519.PublicKey)) }
	send := func(who string, m tx.Msg) (energyTxOut, error) {
		out, err := e.sendWith(ctx, nil, privs[who], m)
		if err == nil && out.Code != 0 {
			err = fmt.Errorf("%s: code %d: %s", out.Type, out.Code, out.Log)
		}
		return out, err
	}
	event := func(out energyTxOut, typ, key string) string {
		for _, ev := range out.Events {
			if ev.Type == typ {
				for _, a := range ev.Attrs {
					if a.Key == key {
						return a.Value
					}
				}
			}
		}
		return ""
	}
	fmt.Fprintf(w, "Provena energy demo: one simulated day (%s UTC) on a one-validator chain in %s\n", day.Format("2006-01-02"), home)
	for _, name := range []string{"solar1", "w1", "oracle1"} {
		if _, err := send("alice", tx.MsgTransfer{To: addr(name), Amount: 10_000_000}); err != nil {
			return energyReport{}, err
		}
	}
	auth := energy.DevAuthorityKey()
	set := tx.MsgEnergySetOracles{Version: 1, Oracles: []tx.Address{addr("oracle1")}, AuthorityPubKey: auth.Public().(ed25519.PublicKey)}
	set.AuthoritySig = ed25519.Sign(auth, set.SignBytes())
	if _, err := send("alice", set); err != nil {
		return energyReport{}, err
	}
	var solarProf *energy.SolarProfile
	if solarPath != "" {
		fh, _ := os.Open(solarPath)
		solarProf, _ = energy.ParseSolarProfile(fh)
		fh.Close()
	}
	series, err := energy.SyntheticHourly("DE", 2024, day, solarProf)
	if err != nil {
		return energyReport{}, err
	}
	post := tx.MsgEnergyPostIntensity{Zone: "DE", StartHour: day.Unix(), Synthetic: true}
	for _, h := range series.Hours {
		post.MgPerKWh = append(post.MgPerKWh, uint32(h.MgPerKWh))
	}
	if _, err := send("oracle1", post); err != nil {
		return energyReport{}, err
	}
	fmt.Fprintf(w, "oracle1 posted DE hourly intensity: %s\n", series.Label)

	_, meter, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return energyReport{}, err
	}
	mpub := meter.Public().(ed25519.PublicKey)
	dev := energy.DeviceIDFromMeterKey(mpub)
	if _, err := send("solar1", tx.MsgEnergyRegisterDevice{Tech: "solar", CapacityW: energyDemoCapacityW, Zone: "DE", MeterPubKey: mpub}); err != nil {
		return energyReport{}, err
	}
	// The worker's load: 64 vCPUs of AMD EPYC 2nd Gen, 60% busy, CCF
	// default PUE; an estimate, labelled so.
	est, err := energy.NewEstimated("AMD EPYC 2nd Gen", energyDemoVCPUs, 3_600_000, 3_600_000*energyDemoVCPUs*energyDemoBusyPct/100, energy.DefaultPUEMilli)
	if err != nil {
		return energyReport{}, err
	}
	loadMWh, err := est.EnergyMWh()
	if err != nil {
		return energyReport{}, err
	}
	loadWh := energyWhCeilCLI(loadMWh)
	fmt.Fprintf(w, "solar1 registered a %d W solar device %s (meter key ed25519); production shaped by %s\n", energyDemoCapacityW, dev, shapeName)
	fmt.Fprintf(w, "w1 runs inference all day: ESTIMATED %d Wh per hour (CCF: %d vCPUs of %s at %d%%, PUE %.3f)\n\n", loadWh, energyDemoVCPUs, est.Family, energyDemoBusyPct, float64(est.PUEMilli)/1000)
	fmt.Fprintln(w, "hour   produced  bundle  offer  bought  retired  consumed  g/kWh (synthetic)")
	var cum uint64
	for h := range 24 {
		start := day.Unix() + int64(h)*3600
		wh := uint64(math.Round(shape[h] * energyDemoCapacityW))
		cum += wh
		r := energy.Reading{Device: dev, Start: start, End: start + 3600, Wh: wh, CumulativeWh: cum}
		sig, err := energy.SignReading(meter, "provena-energy-demo", r)
		if err != nil {
			return energyReport{}, err
		}
		out, err := send("solar1", tx.MsgEnergySubmitReadings{Device: dev, Readings: []tx.EnergySignedReading{{Start: r.Start, End: r.End, Wh: wh, CumulativeWh: cum, Signature: sig}}})
		if err != nil {
			return energyReport{}, err
		}
		certID, offerID, bought, retired := event(out, "energy_issue", "cert"), "-", "-", uint64(0)
		if certID != "" {
			id, _ := strconv.ParseUint(certID, 10, 64)
			out, err := send("solar1", tx.MsgEnergyOffer{Cert: id, PricePerWh: energyDemoPrice})
			if err != nil {
				return energyReport{}, err
			}
			offerID = event(out, "energy_offer", "offer")
			oid, _ := strconv.ParseUint(offerID, 10, 64)
			out, err = send("w1", tx.MsgEnergyBuy{Offer: oid, MaxPricePerWh: energyDemoPrice})
			if err != nil {
				return energyReport{}, err
			}
			bought = event(out, "energy_buy", "cert")
			bid, _ := strconv.ParseUint(bought, 10, 64)
			retired = min(wh, loadWh)
			if _, err := send("w1", tx.MsgEnergyRetire{Cert: bid, Wh: retired, Claim: fmt.Sprintf("demo-jobs-%02d", h), Zone: "DE", Hour: start, ConsumptionWh: loadWh}); err != nil {
				return energyReport{}, err
			}
		} else {
			certID = "-"
		}
		fmt.Fprintf(w, "%02d:00  %5d Wh  %6s  %5s  %6s  %4d Wh  %5d Wh  %.1f\n", h, wh, certID, offerID, bought, retired, loadWh, float64(series.Hours[h].MgPerKWh)/1000)
	}
	// Hours without production still consumed: record those claims too, so
	// the report's consumption is the whole day. They retire nothing, so
	// they are not sent as retirements; the report below adds them.
	rep, err := e.report(ctx, addr("w1"), day, "DE")
	if err != nil {
		return rep, err
	}
	for i := range rep.Hours {
		if rep.Hours[i].ConsumptionWh == 0 {
			rep.Hours[i].ConsumptionWh = loadWh
			rep.ConsumptionWh += loadWh
		}
	}
	if rep.ConsumptionWh > 0 {
		rep.Share247 = float64(rep.Matched247Wh) / float64(rep.ConsumptionWh)
	}
	var produced uint64
	for _, h := range shape {
		produced += uint64(math.Round(h * energyDemoCapacityW))
	}
	rep.ProductionWh = produced
	for i := range rep.Hours {
		rep.Hours[i].ProductionWh = uint64(math.Round(shape[i] * energyDemoCapacityW))
	}
	rep.Annual = energy.Match([]energy.Slot{{Zone: "DE", Hour: day.Unix(), Wh: rep.ConsumptionWh}}, []energy.Slot{{Zone: "DE", Hour: day.Unix(), Wh: produced}})
	rep.Annual.Hours = nil
	fmt.Fprintf(w, "\nw1 consumed %d Wh; 24/7-matched %d Wh = %.1f%% (certificates of DE and the same UTC hour only)\n", rep.ConsumptionWh, rep.Matched247Wh, 100*rep.Share247)
	fmt.Fprintf(w, "annual-style volume matching of the same day would claim %.1f%% (%d of %d Wh): not 24/7, reported separately\n", 100*rep.Annual.ShareAnnual(), rep.Annual.AnnualWh, rep.Annual.ConsumptionWh)
	var tot app.EnergyTotals
	if err := e.query(ctx, app.QueryEnergyTotals, "", &tot); err != nil {
		return rep, err
	}
	fmt.Fprintf(w, "ledger totals: %d Wh issued in %d bundles, %d Wh traded for %s, %d Wh retired\n", tot.IssuedWh, tot.Bundles, tot.TradedWh, upv(tot.PaidUpv), tot.RetiredWh)
	if svgPath != "" {
		c := rep.chart()
		c.Title = "Provena energy demo: solar1's production, w1's consumption, 24/7-matched (" + rep.Day + ", UTC)"
		fh, err := os.Create(svgPath)
		if err != nil {
			return rep, err
		}
		if err := chart.WriteSVG(fh, c, 26*vg.Centimeter, 13*vg.Centimeter); err != nil {
			fh.Close()
			return rep, err
		}
		if err := fh.Close(); err != nil {
			return rep, err
		}
		fmt.Fprintf(w, "chart: %s\n", svgPath)
	}
	return rep, nil
}

func energyWhCeilCLI(mWh uint64) uint64 { return max(1, (mWh+999)/1000) }

// energyNodeBench is the same workload through a real one-validator node:
// transactions broadcast to the HTTP API, ordered by CometBFT, committed.
type energyNodeBench struct {
	BlockTimeMs     uint64  `json:"block_time_ms"`
	IssueSeconds    float64 `json:"issue_seconds"`
	IssuancesPerSec float64 `json:"issuances_per_sec"`
	RetireSeconds   float64 `json:"retire_seconds"`
	RetiresPerSec   float64 `json:"retirements_per_sec"`
}

func runEnergyNodeBench(parent context.Context, devices int) (energyNodeBench, error) {
	res := energyNodeBench{BlockTimeMs: 100}
	ctx, cancel := context.WithTimeout(parent, 5*time.Minute)
	defer cancel()
	home, err := os.MkdirTemp("", "provena-energy-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(home)
	ports, err := node.FreePorts(1)
	if err != nil {
		return res, err
	}
	params := app.DefaultParams()
	params.BlockTimeMs = res.BlockTimeMs
	owners := make([]ed25519.PrivateKey, devices)
	meters := make([]ed25519.PrivateKey, devices)
	var accounts []app.GenesisAccount
	for i := range owners {
		owners[i], meters[i] = energyBenchKey(30_000+i), energyBenchKey(40_000+i)
		accounts = append(accounts, app.GenesisAccount{Address: tx.AddressFromPubKey(owners[i].Public().(ed25519.PublicKey)).String(), Balance: 1_000_000_000})
	}
	const chainID = "provena-energy-bench-node"
	if _, err := node.Init(home, node.InitOptions{ChainID: chainID, Params: &params, Ports: ports, Accounts: accounts}); err != nil {
		return res, err
	}
	n, err := node.Start(ctx, home, node.StartOptions{LogWriter: io.Discard})
	if err != nil {
		return res, err
	}
	defer n.Stop()
	c := client.New(n.APIAddr)
	// Block 1 can be stored before the app commits it: wait for block 2,
	// after which state is queryable.
	if _, err := c.WaitHeight(ctx, 2); err != nil {
		return res, err
	}
	nonces := make([]uint64, devices)
	sign := func(i int, m tx.Msg) []byte {
		b, err := tx.Sign(owners[i], chainID, nonces[i], params.MinFee, m)
		if err != nil {
			panic(err) // valid keys and messages: cannot fail
		}
		nonces[i]++
		return b
	}
	// broadcast sends txs in order and waits until the last of each
	// sender's is committed; it returns the elapsed time.
	broadcast := func(txs [][]byte) (time.Duration, error) {
		t0 := time.Now()
		hashes := make([]string, 0, len(txs))
		for _, b := range txs {
			r, err := c.Broadcast(ctx, b, "sync")
			if err != nil {
				return 0, err
			}
			hashes = append(hashes, r.Hash)
		}
		for _, h := range hashes {
			t, err := c.WaitTx(ctx, h)
			if err != nil {
				return 0, err
			}
			if t.Code != 0 {
				return 0, fmt.Errorf("bench tx %s failed: %d %s", h, t.Code, t.Log)
			}
		}
		return time.Since(t0), nil
	}
	var reg [][]byte
	for i := range owners {
		reg = append(reg, sign(i, tx.MsgEnergyRegisterDevice{Tech: "solar", CapacityW: 5000, Zone: "DE", MeterPubKey: meters[i].Public().(ed25519.PublicKey)}))
	}
	if _, err := broadcast(reg); err != nil {
		return res, err
	}
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Unix()
	var issue [][]byte
	for i := range owners {
		id := energy.DeviceIDFromMeterKey(meters[i].Public().(ed25519.PublicKey))
		m := tx.MsgEnergySubmitReadings{Device: id}
		for h := int64(0); h < 24; h++ {
			r := energy.Reading{Device: id, Start: day + h*3600, End: day + (h+1)*3600, Wh: 1000, CumulativeWh: uint64(h+1) * 1000}
			sig, err := energy.SignReading(meters[i], chainID, r)
			if err != nil {
				return res, err
			}
			m.Readings = append(m.Readings, tx.EnergySignedReading{Start: r.Start, End: r.End, Wh: r.Wh, CumulativeWh: r.CumulativeWh, Signature: sig})
		}
		issue = append(issue, sign(i, m))
	}
	d, err := broadcast(issue)
	if err != nil {
		return res, err
	}
	res.IssueSeconds = d.Seconds()
	res.IssuancesPerSec = float64(devices*24) / d.Seconds()
	var retire [][]byte
	for i := range owners {
		for h := range 5 {
			retire = append(retire, sign(i, tx.MsgEnergyRetire{Cert: uint64(24*i + h + 1), Wh: 1000, Claim: fmt.Sprintf("bench-%d", h), Zone: "DE", Hour: day + int64(h)*3600, ConsumptionWh: 1000}))
		}
	}
	if d, err = broadcast(retire); err != nil {
		return res, err
	}
	res.RetireSeconds = d.Seconds()
	res.RetiresPerSec = float64(len(retire)) / d.Seconds()
	return res, nil
}
