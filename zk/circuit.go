package zk

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark/constraint/solver"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/logger"
	"github.com/consensys/gnark/std/permutation/poseidon2"
	"github.com/consensys/gnark/std/rangecheck"
	"github.com/provena/provena/tensor"
)

// Circuit is the gnark circuit of a Graph under a Visibility. The public
// vector is: the weights commitment (weights hashed), then the input values
// (public) or its commitment (hashed), then the outputs concatenated
// (public) or their commitment (hashed). Priv holds the input values (unless
// public) and, unless weights are public, every weight value in commitment
// order, offset to be non-negative (offsetWeights). Public weights are
// compiled in as constants, so the verifying key binds them; committed
// weights are the operands of the circuit's first BSB22 commitment (see
// weights.go).
//
// # Cost model (R1CS)
//
//   - linear layers, private, hashed or committed weights: weights of s channels are
//     packed into one field element at b = bits(K·255²) bits a slot (s =
//     ⌊253/b⌋, 9 for K ≤ 1024), so one multiplication (x+128)·Σ(w+128)·2^(b·i)
//     does s multiply-accumulates; per output position and channel group one
//     decomposition into s range-checked slots. About K·P·⌈N/s⌉ + P·N·(1 +
//     range check) constraints.
//   - linear layers, public weights: the dot products are linear
//     combinations of the inputs, free in R1CS.
//   - requantization: one hinted division by 2^shift, two hinted
//     comparisons for the clamp, four range checks; a few constraints each.
//   - range checks: 8-bit values through byteTable (one constraint each),
//     wider ones through std/rangecheck (log-derivative lookups over a
//     committed table), about one constraint per limb.
//   - committed weights: no constraint (a Pedersen commitment the prover
//     computes as one multi-scalar multiplication).
//   - hashed tensors: one width-3 Poseidon2 permutation (80 S-boxes, 240
//     constraints) per two packed elements of 31 int8 or 7 int32 values,
//     plus an 8- or 32-bit range check per value.
type Circuit struct {
	Pub  []frontend.Variable `gnark:",public"`
	Priv []frontend.Variable

	g   *Graph
	vis Visibility
}

func init() {
	solver.RegisterHint(divHint, cmpHint, slotsHint, sumHint)
	// gnark logs every compile and proof through a global zerolog logger;
	// this package reports progress through its callers instead
	logger.Disable()
}

// signed reads a field element as a signed integer (p/2 < v is negative).
func signed(field, v *big.Int) *big.Int {
	half := new(big.Int).Rsh(field, 1)
	if v.Cmp(half) > 0 {
		return new(big.Int).Sub(v, field)
	}
	return new(big.Int).Set(v)
}

// divHint: t, s → ⌊t / 2^s⌋ (mod p), t − ⌊t / 2^s⌋·2^s.
func divHint(field *big.Int, in, out []*big.Int) error {
	if len(in) != 2 || len(out) != 2 {
		return fmt.Errorf("divHint: bad arity")
	}
	t := signed(field, in[0])
	s := uint(in[1].Uint64())
	q := new(big.Int).Rsh(t, s) // big.Int Rsh floors negatives
	r := new(big.Int).Sub(t, new(big.Int).Lsh(q, s))
	out[0].Mod(q, field)
	out[1].Set(r)
	return nil
}

// cmpHint: a, b → 1 if a > b (signed) else 0.
func cmpHint(field *big.Int, in, out []*big.Int) error {
	if len(in) != 2 || len(out) != 1 {
		return fmt.Errorf("cmpHint: bad arity")
	}
	if signed(field, in[0]).Cmp(signed(field, in[1])) > 0 {
		out[0].SetUint64(1)
	} else {
		out[0].SetUint64(0)
	}
	return nil
}

// slotsHint: T, b → the len(out) b-bit slots of T, least significant first.
func slotsHint(_ *big.Int, in, out []*big.Int) error {
	if len(in) != 2 {
		return fmt.Errorf("slotsHint: bad arity")
	}
	b := uint(in[1].Uint64())
	t := new(big.Int).Set(in[0])
	mask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), b), big.NewInt(1))
	for i := range out {
		out[i].And(t, mask)
		t.Rsh(t, b)
	}
	return nil
}

// layout counts the public and private vector entries.
func layout(g *Graph, vis Visibility) (nPub, nPriv int) {
	nIn := tensor.NumElements(g.values[g.input].shape)
	if vis.Weights == VisHashed {
		nPub++
	}
	switch vis.Input {
	case VisPublic:
		nPub += nIn
	case VisHashed:
		nPub++
		nPriv += nIn
	default:
		nPriv += nIn
	}
	if vis.Weights != VisPublic {
		for _, t := range g.weights {
			nPriv += t.Len()
		}
	}
	switch vis.Output {
	case VisPublic:
		for _, n := range g.OutputSizes() {
			nPub += n
		}
	case VisHashed:
		nPub++
	}
	return nPub, nPriv
}

// NewCircuit returns the circuit shape to compile (variables unset).
func NewCircuit(g *Graph, vis Visibility) (*Circuit, error) {
	if err := vis.valid(); err != nil {
		return nil, err
	}
	nPub, nPriv := layout(g, vis)
	return &Circuit{Pub: make([]frontend.Variable, nPub), Priv: make([]frontend.Variable, nPriv), g: g, vis: vis}, nil
}

// builder carries what Define needs while it walks the graph.
type builder struct {
	api   frontend.API
	rc    frontend.Rangechecker
	bytes byteTable
	c     *Circuit
}

func (c *Circuit) Define(api frontend.API) error {
	b := &builder{api: api, rc: rangecheck.New(api), c: c}
	g := c.g
	pub, priv := c.Pub, c.Priv
	take := func(s *[]frontend.Variable, n int) []frontend.Variable {
		v := (*s)[:n]
		*s = (*s)[n:]
		return v
	}
	var weightsCommit, inputCommit frontend.Variable
	if c.vis.Weights == VisHashed {
		weightsCommit = take(&pub, 1)[0]
	}
	nIn := tensor.NumElements(g.values[g.input].shape)
	var x []frontend.Variable
	switch c.vis.Input {
	case VisPublic:
		x = take(&pub, nIn)
	case VisHashed:
		inputCommit = take(&pub, 1)[0]
		x = take(&priv, nIn)
	default:
		x = take(&priv, nIn)
	}
	// weights: constants, or variables holding the offset values v − lo
	// (see layout) from which the signed ones are linear expressions
	ws := make([][]frontend.Variable, len(g.weights))
	var raw []frontend.Variable
	for i, t := range g.weights {
		if c.vis.Weights == VisPublic {
			vals := tensorInts(t)
			ws[i] = make([]frontend.Variable, len(vals))
			for j, v := range vals {
				ws[i][j] = v
			}
			continue
		}
		w, err := widthOf(t.DType)
		if err != nil {
			return err
		}
		off := take(&priv, t.Len())
		raw = append(raw, off...)
		ws[i] = make([]frontend.Variable, len(off))
		for j, v := range off {
			ws[i][j] = api.Add(v, w.lo)
		}
	}
	if c.vis.Weights == VisCommitted {
		// the first Commit of the circuit, over the weights only:
		// weightsCommitment and BindWeightsMask rely on both
		cm, ok := api.(frontend.Committer)
		if !ok {
			return fmt.Errorf("zk: weights=committed needs a builder with BSB22 commitments (Groth16)")
		}
		if _, err := cm.Commit(raw...); err != nil {
			return fmt.Errorf("zk: commit to the weights: %w", err)
		}
	}

	for _, v := range x {
		b.rangeOffset(v, pack8)
	}
	if inputCommit != nil {
		h := b.hasher()
		b.absorb(h, x, pack8)
		api.AssertIsEqual(h.Sum(), inputCommit)
	}

	// the range checks make the model an int8/int32 one (and the packing
	// of hashed weights injective)
	for i, t := range g.weights {
		if c.vis.Weights == VisPublic {
			break
		}
		w, err := widthOf(t.DType)
		if err != nil {
			return err
		}
		for _, v := range ws[i] {
			b.rangeOffset(v, w)
		}
	}
	if weightsCommit != nil {
		h := b.hasher()
		h.Write(len(g.weights))
		for i, t := range g.weights {
			w, _ := widthOf(t.DType)
			b.absorb(h, ws[i], w)
		}
		api.AssertIsEqual(h.Sum(), weightsCommit)
	}

	vals := make([][]frontend.Variable, len(g.values))
	vals[g.input] = x
	for li := range g.layers {
		l := &g.layers[li]
		n := tensor.NumElements(g.values[l.out].shape)
		var out []frontend.Variable
		switch l.kind {
		case kLinear:
			var bias []frontend.Variable
			if l.b >= 0 {
				bias = ws[l.b]
			}
			out = b.linear(l, vals[l.in[0]], ws[l.w], bias, c.vis.Weights == VisPublic, n)
		case kMaxPool:
			out = make([]frontend.Variable, n)
			xs := vals[l.in[0]]
			for o, win := range l.windows {
				m := xs[win[0]]
				for _, xi := range win[1:] {
					m = b.max8(m, xs[xi])
				}
				out[o] = m
			}
		case kAdd:
			out = make([]frontend.Variable, n)
			a, bb := vals[l.in[0]], vals[l.in[1]]
			for i := range out {
				t := api.Add(api.Mul(a[i], l.multA), api.Mul(bb[i], l.multB))
				out[i] = b.requant(t, 1, l.rq.shift[0], l.rq.lo, l.rq.hi)
			}
		case kReshape:
			out = vals[l.in[0]]
		}
		vals[l.out] = out
	}

	var outs []frontend.Variable
	for _, o := range g.outputs {
		outs = append(outs, vals[o]...)
	}
	switch c.vis.Output {
	case VisPublic:
		for i, v := range take(&pub, len(outs)) {
			api.AssertIsEqual(outs[i], v)
		}
	case VisHashed:
		h := b.hasher()
		h.Write(len(g.outputs))
		off := 0
		for _, o := range g.outputs {
			w, _ := widthOf(g.values[o].dtype)
			sz := tensor.NumElements(g.values[o].shape)
			vs := outs[off : off+sz]
			off += sz
			if w.bits == 32 {
				// int8 outputs are in range by construction; raw
				// accumulators are checked so that packing is injective
				for _, v := range vs {
					b.rangeOffset(v, w)
				}
			}
			b.absorb(h, vs, w)
		}
		api.AssertIsEqual(h.Sum(), take(&pub, 1)[0])
	}
	if len(pub) != 0 || len(priv) != 0 {
		return fmt.Errorf("zk: circuit layout mismatch (%d public, %d private left)", len(pub), len(priv))
	}
	return b.bytes.build(api)
}

// rangeOffset checks lo ≤ v ≤ hi for the packing width: 8-bit values
// through the byte table, wider ones through std/rangecheck.
func (b *builder) rangeOffset(v frontend.Variable, w packWidth) {
	if w.bits == 8 {
		b.bytes.check(b.api.Sub(v, w.lo))
		return
	}
	b.rc.Check(b.api.Sub(v, w.lo), int(w.bits))
}

func (b *builder) hasher() *circuitSponge { return &circuitSponge{api: b.api} }

// circuitSponge is the in-circuit form of sponge (commit.go): elements are
// buffered because the initial state holds their count.
type circuitSponge struct {
	api frontend.API
	els []frontend.Variable
}

func (h *circuitSponge) Write(vs ...frontend.Variable) { h.els = append(h.els, vs...) }

func (h *circuitSponge) Sum() frontend.Variable {
	p, err := poseidon2.NewPoseidon2FromParameters(h.api, p2Width, p2Full, p2Partial)
	if err != nil {
		panic(err) // BN254 with fixed parameters; cannot fail
	}
	st := make([]frontend.Variable, p2Width)
	for i := range st {
		st[i] = 0
	}
	st[p2Rate] = len(h.els)
	for i := 0; i < len(h.els); i += p2Rate {
		for j := 0; j < p2Rate && i+j < len(h.els); j++ {
			st[j] = h.api.Add(st[j], h.els[i+j])
		}
		if err := p.Permutation(st); err != nil {
			panic(err) // the state has the permutation's width; cannot happen
		}
	}
	return st[0]
}

// absorb writes the count then the packed elements, as sponge.absorb.
func (b *builder) absorb(h *circuitSponge, vs []frontend.Variable, w packWidth) {
	h.Write(len(vs))
	for i := 0; i < len(vs); i += w.slots {
		end := min(i+w.slots, len(vs))
		terms := make([]frontend.Variable, 0, end-i)
		for j := i; j < end; j++ {
			coef := new(big.Int).Lsh(big.NewInt(1), w.bits*uint(j-i))
			terms = append(terms, b.api.Mul(b.api.Sub(vs[j], w.lo), coef))
		}
		h.Write(sum(b.api, terms))
	}
}

func sum(api frontend.API, terms []frontend.Variable) frontend.Variable {
	switch len(terms) {
	case 0:
		return 0
	case 1:
		return terms[0]
	}
	return api.Add(terms[0], terms[1], terms[2:]...)
}

// sumChunk is below gnark's default compress threshold (300 terms).
const sumChunk = 256

// sumO sums many wires so that they end up in the C column of the R1CS
// rather than the B column. gnark's R1CS builder replaces a linear
// expression of 300 or more terms by a new wire with the constraint
// expr·1 = wire, and puts the longer side of a product into B: every wire
// of a long sum then enters the prover's B multi-scalar multiplications,
// in G1 and in G2 (several times the G1 cost). For the MNIST MLP that was
// the 102k lookup inverses and 12k packed products, more than half of B.
// Here each chunk of sumChunk terms is a hinted wire c with the constraint
// 1·c = chunk (AssertIsEqual puts its first argument in B, its second in
// C): the same one constraint per chunk, and only c in B.
func sumO(api frontend.API, terms []frontend.Variable) frontend.Variable {
	for len(terms) >= sumChunk {
		var next []frontend.Variable
		for i := 0; i < len(terms); i += sumChunk {
			chunk := terms[i:min(i+sumChunk, len(terms))]
			if len(chunk) == 1 {
				next = append(next, chunk[0])
				continue
			}
			c, err := api.Compiler().NewHint(sumHint, 1, chunk...)
			if err != nil {
				panic(err)
			}
			api.AssertIsEqual(c[0], sum(api, chunk))
			next = append(next, c[0])
		}
		terms = next
	}
	return sum(api, terms)
}

// sumHint: the sum of the inputs (mod p).
func sumHint(field *big.Int, in, out []*big.Int) error {
	if len(out) != 1 {
		return fmt.Errorf("sumHint: bad arity")
	}
	out[0].SetUint64(0)
	for _, v := range in {
		out[0].Add(out[0], v)
	}
	out[0].Mod(out[0], field)
	return nil
}

// slotBits is the width of one packed accumulator slot for reduction K:
// each slot sums at most K products of two values in 0..255.
func slotBits(K int) int {
	return big.NewInt(int64(K) * 255 * 255).BitLen()
}

// linear computes a QGemm/QConv layer's outputs.
func (b *builder) linear(l *layer, x, w, bias []frontend.Variable, fixed bool, n int) []frontend.Variable {
	api := b.api
	out := make([]frontend.Variable, n)
	accOf := func(p, ch int, acc frontend.Variable) {
		if l.rq.out32 {
			out[l.outIndex(p, ch)] = acc
			return
		}
		out[l.outIndex(p, ch)] = b.requant(acc, l.rq.mult[ch], l.rq.shift[ch], l.rq.lo, l.rq.hi)
	}
	if fixed {
		for p := 0; p < l.P; p++ {
			row := l.xIdx[p*l.K : (p+1)*l.K]
			for ch := 0; ch < l.N; ch++ {
				terms := make([]frontend.Variable, 0, l.K+1)
				if bias != nil {
					terms = append(terms, bias[ch])
				}
				for k, xi := range row {
					if xi >= 0 && w[ch*l.K+k].(int64) != 0 {
						terms = append(terms, api.Mul(x[xi], w[ch*l.K+k]))
					}
				}
				accOf(p, ch, sum(api, terms))
			}
		}
		return out
	}
	sb := slotBits(l.K)
	s := min(253/sb, l.N)
	base := func(i int) *big.Int { return new(big.Int).Lsh(big.NewInt(1), uint(sb*i)) }
	// packed weights per channel group and reduction index, shared by all
	// positions: Σ_i (w[n0+i, k] + 128)·2^(b·i)
	groups := (l.N + s - 1) / s
	packed := make([][]frontend.Variable, groups)
	for gi := range packed {
		packed[gi] = make([]frontend.Variable, l.K)
		for k := 0; k < l.K; k++ {
			terms := make([]frontend.Variable, 0, s)
			for i := 0; i < s && gi*s+i < l.N; i++ {
				terms = append(terms, api.Mul(api.Add(w[(gi*s+i)*l.K+k], 128), base(i)))
			}
			packed[gi][k] = sum(api, terms)
		}
	}
	for p := 0; p < l.P; p++ {
		row := l.xIdx[p*l.K : (p+1)*l.K]
		xs := make([]frontend.Variable, 0, l.K)
		ks := make([]int, 0, l.K)
		for k, xi := range row {
			if xi >= 0 {
				xs = append(xs, api.Add(x[xi], 128))
				ks = append(ks, k)
			}
		}
		sumX := sum(api, xs)
		for gi := 0; gi < groups; gi++ {
			prods := make([]frontend.Variable, len(xs))
			for j, k := range ks {
				prods[j] = api.Mul(xs[j], packed[gi][k])
			}
			T := sumO(api, prods)
			ns := min(s, l.N-gi*s)
			slots, err := api.Compiler().NewHint(slotsHint, ns, T, sb)
			if err != nil {
				panic(err)
			}
			recomposed := make([]frontend.Variable, ns)
			for i, sl := range slots {
				b.rc.Check(sl, sb)
				recomposed[i] = api.Mul(sl, base(i))
			}
			// the slots (26-bit) in B, the products in C (see sumO)
			api.AssertIsEqual(sum(api, recomposed), T)
			for i := 0; i < ns; i++ {
				ch := gi*s + i
				// Σ x·w = Σ x'w' − 128·Σx' − 128·Σw' + 128²·n with x' = x+128
				terms := make([]frontend.Variable, 0, len(ks)+4)
				terms = append(terms, slots[i], api.Mul(sumX, -128), 16384*len(ks))
				for _, k := range ks {
					terms = append(terms, api.Mul(api.Add(w[ch*l.K+k], 128), -128))
				}
				if bias != nil {
					terms = append(terms, bias[ch])
				}
				accOf(p, ch, sum(api, terms))
			}
		}
	}
	return out
}

// requant returns clamp(rshift(v·mult, shift), lo, hi) for v whose honest
// |v·mult| < 2^62.
func (b *builder) requant(v frontend.Variable, mult, shift, lo, hi int64) frontend.Variable {
	api := b.api
	t := api.Add(api.Mul(v, mult), new(big.Int).Lsh(big.NewInt(1), uint(shift-1)))
	qr, err := api.Compiler().NewHint(divHint, 2, t, shift)
	if err != nil {
		panic(err)
	}
	q, r := qr[0], qr[1]
	b.rc.Check(r, int(shift))
	// q and r in B, the long accumulator t in C (see sumO)
	api.AssertIsEqual(api.Add(api.Mul(q, new(big.Int).Lsh(big.NewInt(1), uint(shift))), r), t)
	// the clamp's range checks also bound q, which makes t = q·2^s + r unique
	R := max(64-int(shift), 9)
	m := b.minConst(q, hi, R)
	return b.maxConst(m, lo, R)
}

// minConst returns min(v, c), with |v − c| < 2^R.
func (b *builder) minConst(v frontend.Variable, c int64, R int) frontend.Variable {
	api := b.api
	gt := b.cmp(v, c)
	// gt: v − c − 1 ≥ 0, else c − v ≥ 0
	d := api.Add(api.Sub(c, v), api.Mul(gt, api.Sub(api.Mul(v, 2), 2*c+1)))
	b.rc.Check(d, R)
	return api.Add(v, api.Mul(gt, api.Sub(c, v)))
}

// maxConst returns max(v, c), with |v − c| < 2^R.
func (b *builder) maxConst(v frontend.Variable, c int64, R int) frontend.Variable {
	api := b.api
	lt := b.cmp(c, v)
	d := api.Add(api.Sub(v, c), api.Mul(lt, api.Sub(2*c-1, api.Mul(v, 2))))
	b.rc.Check(d, R)
	return api.Add(v, api.Mul(lt, api.Sub(c, v)))
}

// max8 returns max(a, b) of two int8 values.
func (b *builder) max8(x, y frontend.Variable) frontend.Variable {
	api := b.api
	gt := b.cmp(x, y)
	d := api.Add(api.Sub(y, x), api.Mul(gt, api.Sub(api.Mul(api.Sub(x, y), 2), 1)))
	b.rc.Check(d, 9)
	return api.Add(y, api.Mul(gt, api.Sub(x, y)))
}

// cmp returns a boolean hint that x > y; callers constrain it.
func (b *builder) cmp(x, y frontend.Variable) frontend.Variable {
	o, err := b.api.Compiler().NewHint(cmpHint, 1, x, y)
	if err != nil {
		panic(err)
	}
	b.api.AssertIsBoolean(o[0])
	return o[0]
}
