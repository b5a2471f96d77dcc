package energy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// DefaultPowercapRoot is where Linux exposes powercap zones.
const DefaultPowercapRoot = "/sys/class/powercap"

// RAPL reads the package-level RAPL energy counters of one machine. Only
// top-level zones (intel-rapl:N) are read: their subzones (core, uncore,
// dram) are parts of the package figure and would double count.
type RAPL struct {
	dirs  []string
	names []string
	max   []uint64
}

// OpenRAPL finds the readable package counters under root (normally
// DefaultPowercapRoot). It fails when there are none, which is the usual
// case in containers and VMs, and for unprivileged users on kernels that
// restrict energy_uj to root: callers then estimate.
func OpenRAPL(root string) (*RAPL, error) {
	matches, err := filepath.Glob(filepath.Join(root, "intel-rapl:*"))
	if err != nil {
		return nil, fmt.Errorf("find RAPL zones under %s: %w", root, err)
	}
	sort.Strings(matches)
	r := &RAPL{}
	var errs []error
	for _, d := range matches {
		if strings.Count(filepath.Base(d), ":") != 1 {
			continue // a subzone
		}
		mx, err := readUint(filepath.Join(d, "max_energy_range_uj"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := readUint(filepath.Join(d, "energy_uj")); err != nil {
			errs = append(errs, err)
			continue
		}
		name := filepath.Base(d)
		if b, err := os.ReadFile(filepath.Join(d, "name")); err == nil {
			name = strings.TrimSpace(string(b)) + "@" + name
		}
		r.dirs, r.names, r.max = append(r.dirs, d), append(r.names, name), append(r.max, mx)
	}
	if len(r.dirs) == 0 {
		if len(errs) > 0 {
			return nil, fmt.Errorf("no readable RAPL counters under %s: %w", root, errors.Join(errs...))
		}
		return nil, fmt.Errorf("no RAPL counters under %s", root)
	}
	return r, nil
}

// Zones names the counters read, e.g. "package-0@intel-rapl:0".
func (r *RAPL) Zones() []string { return append([]string(nil), r.names...) }

// Snapshot is one reading of every counter. Only RAPL.Read makes one, so a
// Measured built with Between carries readings taken from a real counter.
type Snapshot struct {
	r  *RAPL
	uj []uint64
}

// Read reads every counter.
func (r *RAPL) Read() (Snapshot, error) {
	s := Snapshot{r: r, uj: make([]uint64, len(r.dirs))}
	for i, d := range r.dirs {
		v, err := readUint(filepath.Join(d, "energy_uj"))
		if err != nil {
			return Snapshot{}, err
		}
		if v > r.max[i] {
			return Snapshot{}, fmt.Errorf("%s: energy_uj %d above max_energy_range_uj %d", d, v, r.max[i])
		}
		s.uj[i] = v
	}
	return s, nil
}

// Between turns two snapshots of the same RAPL into measured evidence. A
// counter that wrapped more than once between them (about an hour or more
// at full load on a typical 2^32 µJ range) is undetectable; keep intervals
// short or read periodically.
func Between(start, end Snapshot, pueMilli uint32) (*Measured, error) {
	if start.r == nil || start.r != end.r {
		return nil, errors.New("measure: snapshots must come from the same RAPL.Read")
	}
	m := &Measured{PUEMilli: pueMilli}
	for i, name := range start.r.names {
		m.Counters = append(m.Counters, Counter{Zone: name, StartUJ: start.uj[i], EndUJ: end.uj[i], MaxRangeUJ: start.r.max[i]})
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return v, nil
}
