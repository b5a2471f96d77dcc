package app

import (
	"fmt"
	"sort"
	"sync"
)

// QueryRoute answers one module's query path from a single state key, so
// that every module query can carry an ICS23 proof like the built-in ones.
type QueryRoute struct {
	// Key maps the query's data to the state key that answers it; an error
	// is the caller's fault (bad query data).
	Key func(data []byte) ([]byte, error)
	// Render turns the stored bytes (nil when the key is absent) into the
	// JSON value returned to the client. It must be a pure function of
	// (key, raw): clients re-run it to check a proven value.
	Render func(key, raw []byte) ([]byte, error)
}

var (
	routesMu sync.RWMutex
	routes   = map[string]QueryRoute{}
)

// RegisterQuery adds a module query path, from the module's init. A
// duplicate or a clash with a built-in path panics.
func RegisterQuery(path string, r QueryRoute) {
	routesMu.Lock()
	defer routesMu.Unlock()
	switch path {
	case QueryAccount, QueryParams, QuerySupply:
		panic(fmt.Sprintf("app: query path %s is built in", path))
	}
	if _, dup := routes[path]; dup {
		panic(fmt.Sprintf("app: query path %s registered twice", path))
	}
	if r.Key == nil || r.Render == nil {
		panic(fmt.Sprintf("app: query path %s needs Key and Render", path))
	}
	routes[path] = r
}

func queryRoute(path string) (QueryRoute, bool) {
	routesMu.RLock()
	defer routesMu.RUnlock()
	r, ok := routes[path]
	return r, ok
}

// QueryPaths lists every query path, built-in and registered, sorted.
func QueryPaths() []string {
	routesMu.RLock()
	defer routesMu.RUnlock()
	paths := []string{QueryAccount, QueryParams, QuerySupply}
	for p := range routes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}
