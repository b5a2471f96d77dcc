package node

import (
	"fmt"
	"net"
)

// FreePorts picks n sets of currently free loopback ports, for tests and
// benchmarks that start nodes beside other processes. A port can be taken
// by someone else between this call and the node binding it; callers that
// must not flake retry on a bind error.
func FreePorts(n int) ([]Ports, error) {
	ls := make([]net.Listener, 0, 3*n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	next := func() (int, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	out := make([]Ports, n)
	for i := range out {
		for _, p := range []*int{&out[i].P2P, &out[i].RPC, &out[i].API} {
			v, err := next()
			if err != nil {
				return nil, err
			}
			*p = v
		}
	}
	return out, nil
}
