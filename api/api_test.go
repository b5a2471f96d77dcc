package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/api"
	"github.com/provena/provena/app"
	"github.com/provena/provena/client"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/node"
	"github.com/provena/provena/tx"
)

// One real node serves every test in this package.
var (
	testNode  *node.Node
	testAPI   string
	testAlice ed25519.PrivateKey
	testChain = "api-test"
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "provena-api-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ports, err := node.FreePorts(1)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	params := app.DefaultParams()
	params.BlockTimeMs = 100
	if _, err := node.Init(dir, node.InitOptions{ChainID: testChain, Params: &params, Ports: ports}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kr, err := keys.Open(keys.Dir(dir), keys.BackendTest)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if testAlice, err = kr.PrivateKey("alice"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testNode, err = node.Start(context.Background(), dir, node.StartOptions{LogWriter: io.Discard})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer testNode.Stop()
	testAPI = "http://" + testNode.APIAddr
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := client.New(testAPI).WaitHeight(ctx, 2); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func aliceAddr() tx.Address { return tx.AddressFromPubKey(testAlice.Public().(ed25519.PublicKey)) }

// openAPIRoutes reads "METHOD /path" pairs from openapi.yaml: a path is a
// two-space-indented key under paths:, a method a four-space-indented one.
func openAPIRoutes(t *testing.T) []string {
	f, err := os.Open("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pathRe := regexp.MustCompile(`^  (/\S*):\s*$`)
	methodRe := regexp.MustCompile(`^    (get|post|put|delete|patch):\s*$`)
	var routes []string
	inPaths, cur := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, " ") && line != "" {
			inPaths = line == "paths:"
			continue
		}
		if !inPaths {
			continue
		}
		if m := pathRe.FindStringSubmatch(line); m != nil {
			cur = m[1]
		} else if m := methodRe.FindStringSubmatch(line); m != nil && cur != "" {
			routes = append(routes, strings.ToUpper(m[1])+" "+cur)
		}
	}
	if len(routes) < 7 {
		t.Fatalf("openapi.yaml lists only %d routes: %v", len(routes), routes)
	}
	return routes
}

func call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			j, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(j)
		}
	}
	req, err := http.NewRequest(method, testAPI+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: content type %q, body %s", method, path, ct, b)
	}
	return resp.StatusCode, b
}

func signTransfer(t *testing.T, nonce uint64, amount uint64) []byte {
	t.Helper()
	var to tx.Address
	to[0] = 7
	b, err := tx.Sign(testAlice, testChain, nonce, app.DefaultParams().MinFee, tx.MsgTransfer{To: to, Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOpenAPIRoutesServed calls every route in openapi.yaml with valid
// arguments and expects a 200 JSON answer: the document and the server
// cannot drift apart.
func TestOpenAPIRoutesServed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := client.New(testAPI)
	acct, _, err := c.AccountState(ctx, aliceAddr())
	if err != nil {
		t.Fatal(err)
	}
	sent, err := c.Broadcast(ctx, signTransfer(t, acct.Nonce, 5), "commit")
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]string{"{address}": aliceAddr().String(), "{hash}": sent.Hash, "{height}": "1", "{path}": "supply"}
	for _, route := range openAPIRoutes(t) {
		t.Run(route, func(t *testing.T) {
			method, path, _ := strings.Cut(route, " ")
			for k, v := range args {
				path = strings.ReplaceAll(path, k, v)
			}
			var body any
			if method == http.MethodPost {
				acct, _, err := c.AccountState(ctx, aliceAddr())
				if err != nil {
					t.Fatal(err)
				}
				body = api.BroadcastRequest{Tx: signTransfer(t, acct.Nonce, 1), Mode: "commit"}
			}
			status, b := call(t, method, path, body)
			if status != http.StatusOK {
				t.Fatalf("%s: HTTP %d %s", route, status, b)
			}
			if !json.Valid(b) {
				t.Fatalf("%s: invalid JSON %s", route, b)
			}
		})
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"unknown route", "GET", "/v1/nothing", nil, 404, "no_route"},
		{"wrong method", "DELETE", "/v1/status", nil, 404, "no_route"},
		{"bad address", "GET", "/v1/accounts/pvXYZ", nil, 400, "bad_request"},
		{"upper-case address", "GET", "/v1/accounts/" + strings.ToUpper(aliceAddr().String()), nil, 400, "bad_request"},
		{"bad prove flag", "GET", "/v1/accounts/" + aliceAddr().String() + "?prove=maybe", nil, 400, "bad_request"},
		{"bad tx hash", "GET", "/v1/txs/abc", nil, 400, "bad_request"},
		{"unknown tx", "GET", "/v1/txs/" + strings.Repeat("ab", 32), nil, 404, "not_found"},
		{"bad height", "GET", "/v1/blocks/-3", nil, 400, "bad_request"},
		{"height text", "GET", "/v1/blocks/tip", nil, 400, "bad_request"},
		{"future height", "GET", "/v1/blocks/999999999", nil, 404, "not_found"},
		{"body not json", "POST", "/v1/txs", "{not json", 400, "bad_request"},
		{"body unknown field", "POST", "/v1/txs", `{"tx":"AAAA","extra":1}`, 400, "bad_request"},
		{"tx not base64", "POST", "/v1/txs", `{"tx":"@@@"}`, 400, "bad_request"},
		{"empty tx", "POST", "/v1/txs", `{"tx":""}`, 400, "bad_request"},
		{"bad mode", "POST", "/v1/txs", `{"tx":"AAAA","mode":"later"}`, 400, "bad_request"},
		{"malformed tx bytes", "POST", "/v1/txs", `{"tx":"AAAA"}`, 422, "tx_rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, b := call(t, tt.method, tt.path, tt.body)
			var e api.Error
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("body %s: %v", b, err)
			}
			if status != tt.status || e.Code != tt.code || e.Message == "" {
				t.Fatalf("got HTTP %d %+v, want %d %s with a message", status, e, tt.status, tt.code)
			}
		})
	}
}

func TestProofVerifies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := client.New(testAPI)
	for _, addr := range []tx.Address{aliceAddr(), {1, 2, 3}} {
		v, err := c.Verify(ctx, addr)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if v.HeaderHeight != v.Height+1 || v.AppHash == "" {
			t.Fatalf("%s: %+v", addr, v)
		}
		if v.Exists != (addr == aliceAddr()) {
			t.Fatalf("%s: exists = %v", addr, v.Exists)
		}
	}
	// A proof must not verify against the app hash of a state from before
	// alice's latest transfer.
	acct, _, err := c.AccountState(ctx, aliceAddr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Broadcast(ctx, signTransfer(t, acct.Nonce, 3), "commit"); err != nil {
		t.Fatal(err)
	}
	a, err := c.Account(ctx, aliceAddr(), true)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := c.Block(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	root := mustHex(t, hdr.AppHash)
	if _, err := client.VerifyAccountProof(aliceAddr(), a.Account, a.Proof, root); err == nil {
		t.Fatal("proof verified against the wrong app hash")
	}
	// Nor for a doctored account.
	doctored := bytes.Replace(a.Account, []byte(`"balance":`), []byte(`"balance":9`), 1)
	next, err := c.WaitHeight(ctx, a.Height+1)
	if err != nil {
		t.Fatal(err)
	}
	nextRoot := mustHex(t, next.AppHash)
	if _, err := client.VerifyAccountProof(aliceAddr(), a.Account, a.Proof, nextRoot); err != nil {
		t.Fatalf("genuine account: %v", err)
	}
	if _, err := client.VerifyAccountProof(aliceAddr(), doctored, a.Proof, nextRoot); err == nil {
		t.Fatal("doctored account verified")
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	if _, err := fmt.Sscanf(s, "%X", &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzParseHash(f *testing.F) {
	for _, s := range []string{"", "0x", strings.Repeat("ab", 32), "0X" + strings.Repeat("AB", 32), strings.Repeat("g", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := api.ParseHash(s)
		if err == nil && len(b) != 32 {
			t.Fatalf("ParseHash(%q) = %d bytes", s, len(b))
		}
	})
}

// FuzzRequests sends arbitrary path segments and bodies to the running node:
// every answer must be JSON, and nothing may be a 500 (a panic or an
// unmapped failure).
func FuzzRequests(f *testing.F) {
	f.Add("pv0000000000000000000000000000000000000000", []byte(`{"tx":"AAAA","mode":"sync"}`))
	f.Add("latest", []byte(`{"tx":null}`))
	f.Add("0x"+strings.Repeat("ab", 32), []byte(`[]`))
	f.Add("%zz", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, seg string, body []byte) {
		for _, p := range []string{"/v1/accounts/", "/v1/txs/", "/v1/blocks/"} {
			req, err := http.NewRequest(http.MethodGet, testAPI+p+url.PathEscape(seg)+"?prove=true", nil)
			if err != nil {
				return
			}
			checkFuzzResponse(t, req)
		}
		req, err := http.NewRequest(http.MethodPost, testAPI+"/v1/txs", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		checkFuzzResponse(t, req)
	})
}

func checkFuzzResponse(t *testing.T, req *http.Request) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode >= 500 || !json.Valid(b) {
		t.Fatalf("%s %s: HTTP %d %s", req.Method, req.URL, resp.StatusCode, b)
	}
}
