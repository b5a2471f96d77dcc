package blob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Replicate makes every node in nodes hold the whole blob of manifest m:
// it posts the manifest to each node (a node's Admit policy may refuse it)
// and, for each chunk the node lists as missing, fetches the chunk from
// the other nodes in turn, verifies it against m.Root and sends it to the
// node. It is client-driven: nodes never fetch from each other. m must come
// from a trusted source (the ledger's version record), because its root is
// what every chunk is checked against. It returns the chunks sent per
// node, in the order of nodes; the error names the first node it could not
// complete, after trying all of them.
func (c *Client) Replicate(ctx context.Context, m Manifest, nodes []string) ([]int, error) {
	if err := m.Validate(MaxSize); err != nil {
		return nil, fmt.Errorf("replicate: %w", err)
	}
	sent := make([]int, len(nodes))
	var errs []error
	for k, node := range nodes {
		others := make([]string, 0, len(nodes)-1)
		for j, o := range nodes {
			if j != k {
				others = append(others, o)
			}
		}
		n, err := c.replicateTo(ctx, m, node, others)
		sent[k] = n
		if err != nil {
			errs = append(errs, fmt.Errorf("replicate %s to %s: %w", m.Root, node, err))
		}
	}
	return sent, errors.Join(errs...)
}

func (c *Client) replicateTo(ctx context.Context, m Manifest, node string, sources []string) (int, error) {
	var st Status
	mb, _ := json.Marshal(m) // plain struct: cannot fail
	if _, err := c.do(ctx, http.MethodPost, baseURL(node), mb, &st); err != nil {
		return 0, err
	}
	if st.Manifest != m {
		return 0, errors.New("node answered for a different manifest")
	}
	if len(st.Missing) > 0 && len(sources) == 0 {
		return 0, fmt.Errorf("%d chunks missing and no other node to fetch them from", len(st.Missing))
	}
	sent := 0
	for _, i := range st.Missing {
		if i < 0 || i >= m.Chunks {
			return sent, fmt.Errorf("node lists chunk %d of %d as missing", i, m.Chunks)
		}
		framed, _, err := c.fetchFramed(ctx, m, i, sources, nil)
		if err != nil {
			return sent, err
		}
		url := baseURL(node) + "/" + m.Root.String() + "/chunks/" + strconv.Itoa(i)
		if _, err := c.do(ctx, http.MethodPut, url, framed, nil); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}
