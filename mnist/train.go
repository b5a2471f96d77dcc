package mnist

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// RecipeVersion names the training recipe (defaults below, initialisation,
// data order, optimiser). Change it whenever a change to this package would
// give a different model for the same options: the fixture script retrains
// its cached models when it changes.
const RecipeVersion = 1

// shards is the fixed number of parts each mini-batch is split into, one
// goroutine each. Gradients are summed shard by shard in index order, so
// the trained model does not depend on the number of cores.
const shards = 4

// Options configures training. Zero values take the recipe's defaults.
type Options struct {
	Epochs    int     // default: 4 (mlp), 3 (cnn)
	BatchSize int     // default 32
	LR        float64 // Adam step size, default 2e-3
	LRDecay   float64 // step size multiplier per epoch, default 0.6
	Seed      uint64  // initialisation and shuffling, default 1
	// Limit trains on the first Limit training examples (0: all of them).
	Limit int
	// Train and Test default to Load("train"); Test, when set, is evaluated
	// after every epoch.
	Train, Test *Set
	// Progress, when set, is called after every epoch.
	Progress func(EpochStats)
}

// EpochStats describes one finished epoch.
type EpochStats struct {
	Epoch, Epochs int
	Loss          float64 // mean cross-entropy over the epoch's examples
	TrainAccuracy float64 // on the examples as they were trained
	TestAccuracy  float64 // -1 when Options.Test is nil
}

// DefaultEpochs is the recipe's number of epochs for an architecture.
func DefaultEpochs(a Arch) int {
	if a == CNN {
		return 3
	}
	return 4
}

// TrainMLP trains the MLP (784-128-10).
func TrainMLP(opts Options) (*Net, error) { return Train(MLP, opts) }

// TrainCNN trains the small CNN.
func TrainCNN(opts Options) (*Net, error) { return Train(CNN, opts) }

// Train trains a network of the given architecture with Adam on softmax
// cross-entropy, in mini-batches shuffled by a seeded generator.
func Train(a Arch, opts Options) (*Net, error) {
	if opts.Epochs == 0 {
		opts.Epochs = DefaultEpochs(a)
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 32
	}
	if opts.LR == 0 {
		opts.LR = 2e-3
	}
	if opts.LRDecay == 0 {
		opts.LRDecay = 0.6
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	switch {
	case opts.Epochs < 1 || opts.Epochs > 1000:
		return nil, fmt.Errorf("mnist: train: epochs %d: want 1 to 1000", opts.Epochs)
	case opts.BatchSize < 1 || opts.BatchSize > 1<<16:
		return nil, fmt.Errorf("mnist: train: batch size %d: want 1 to 65536", opts.BatchSize)
	case !(opts.LR > 0 && opts.LR < 1):
		return nil, fmt.Errorf("mnist: train: learning rate %v: want in (0, 1)", opts.LR)
	case !(opts.LRDecay > 0 && opts.LRDecay <= 1):
		return nil, fmt.Errorf("mnist: train: learning rate decay %v: want in (0, 1]", opts.LRDecay)
	case opts.Limit < 0:
		return nil, fmt.Errorf("mnist: train: limit %d: want >= 0", opts.Limit)
	}
	net, err := NewNet(a, opts.Seed)
	if err != nil {
		return nil, err
	}
	train := opts.Train
	if train == nil {
		if train, err = Load("train"); err != nil {
			return nil, err
		}
	}
	if err := train.check(); err != nil {
		return nil, fmt.Errorf("mnist: train: %w", err)
	}
	n := train.Len()
	if opts.Limit > 0 && opts.Limit < n {
		n = opts.Limit
	}
	if n == 0 {
		return nil, errors.New("mnist: train: no training examples")
	}

	rng := rand.New(rand.NewPCG(opts.Seed, 0x73687566)) // "shuf"
	works := make([]*work, shards)
	for i := range works {
		works[i] = newWork(net, true)
	}
	opt := newAdam(net)
	losses := make([]float64, shards)
	correct := make([]int, shards)
	lr := opts.LR
	for epoch := 1; epoch <= opts.Epochs; epoch++ {
		order := rng.Perm(n)
		var loss float64
		var right int
		for start := 0; start < n; start += opts.BatchSize {
			batch := order[start:min(start+opts.BatchSize, n)]
			var wg sync.WaitGroup
			for s, w := range works {
				lo, hi := s*len(batch)/shards, (s+1)*len(batch)/shards
				wg.Add(1)
				go func() {
					defer wg.Done()
					losses[s], correct[s] = w.trainShard(train, batch[lo:hi])
				}()
			}
			wg.Wait()
			for s := range works {
				loss += losses[s]
				right += correct[s]
			}
			opt.step(works, lr, len(batch))
		}
		lr *= opts.LRDecay
		if opts.Progress != nil {
			st := EpochStats{Epoch: epoch, Epochs: opts.Epochs, Loss: loss / float64(n),
				TrainAccuracy: float64(right) / float64(n), TestAccuracy: -1}
			if opts.Test != nil {
				acc, err := Evaluate(net, opts.Test)
				if err != nil {
					return nil, err
				}
				st.TestAccuracy = acc.Accuracy()
			}
			opts.Progress(st)
		}
	}
	return net, nil
}

// trainShard runs forward and backward on some examples, adding their
// gradients to w.grad (zeroed first), and returns their summed loss and
// how many it classified right.
func (w *work) trainShard(s *Set, idx []int) (float64, int) {
	for _, g := range w.grad {
		clear(g)
	}
	var loss float64
	right := 0
	var dl [Classes]float32
	for _, i := range idx {
		w.setImage(s.Images[i])
		w.forward()
		label := int(s.Labels[i])
		if argmax(w.logits) == label {
			right++
		}
		// Softmax in float64 from the largest logit, for a stable loss.
		mx := float64(w.logits[argmax(w.logits)])
		var sum float64
		var e [Classes]float64
		for k, v := range w.logits {
			e[k] = math.Exp(float64(v) - mx)
			sum += e[k]
		}
		loss += math.Log(sum) - (float64(w.logits[label]) - mx)
		for k := range dl {
			dl[k] = float32(e[k] / sum)
		}
		dl[label]--
		w.backward(dl[:])
	}
	return loss, right
}

// adam is the Adam optimiser (Kingma & Ba) with the usual constants.
type adam struct {
	net  *Net
	m, v [][]float32
	t    int
}

func newAdam(n *Net) *adam {
	a := &adam{net: n}
	for _, p := range n.Params {
		a.m = append(a.m, make([]float32, len(p.Data)))
		a.v = append(a.v, make([]float32, len(p.Data)))
	}
	return a
}

// step sums the shards' gradients in shard order, averages them over the
// batch and updates the parameters.
func (a *adam) step(works []*work, lr float64, batch int) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	a.t++
	alpha := float32(lr * math.Sqrt(1-math.Pow(b2, float64(a.t))) / (1 - math.Pow(b1, float64(a.t))))
	scale := float32(1 / float64(batch))
	for pi, p := range a.net.Params {
		g0 := works[0].grad[pi]
		for _, w := range works[1:] {
			for i, v := range w.grad[pi] {
				g0[i] += v
			}
		}
		m, v := a.m[pi], a.v[pi]
		for i := range p.Data {
			g := g0[i] * scale
			m[i] = float32(b1*m[i]) + float32((1-b1)*g)
			v[i] = float32(b2*v[i]) + float32(float32((1-b2)*g)*g)
			p.Data[i] -= float32(alpha*m[i]) / (float32(math.Sqrt(float64(v[i]))) + eps)
		}
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func (s *Set) check() error {
	if s == nil {
		return errors.New("nil data set")
	}
	if len(s.Images) != len(s.Labels) {
		return fmt.Errorf("%d images and %d labels", len(s.Images), len(s.Labels))
	}
	for i, img := range s.Images {
		if len(img) != Pixels {
			return fmt.Errorf("image %d has %d pixels, want %d", i, len(img), Pixels)
		}
		if s.Labels[i] >= Classes {
			return fmt.Errorf("label %d is %d, want 0..9", i, s.Labels[i])
		}
	}
	return nil
}

// Accuracy counts right answers.
type Accuracy struct {
	Correct, Total int
}

// Accuracy is Correct/Total (0 for an empty set).
func (a Accuracy) Accuracy() float64 {
	if a.Total == 0 {
		return 0
	}
	return float64(a.Correct) / float64(a.Total)
}

// Evaluate classifies every example of s with the trainer's forward pass.
func Evaluate(n *Net, s *Set) (Accuracy, error) {
	preds, err := Predict(n, s)
	if err != nil {
		return Accuracy{}, err
	}
	acc := Accuracy{Total: len(preds)}
	for i, p := range preds {
		if p == int(s.Labels[i]) {
			acc.Correct++
		}
	}
	return acc, nil
}

// Predict returns the predicted class of every example of s.
func Predict(n *Net, s *Set) ([]int, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("mnist: evaluate: %w", err)
	}
	preds := make([]int, s.Len())
	var wg sync.WaitGroup
	for sh := 0; sh < shards; sh++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWork(n, false)
			for i := sh; i < len(preds); i += shards {
				w.setImage(s.Images[i])
				w.forward()
				preds[i] = argmax(w.logits)
			}
		}()
	}
	wg.Wait()
	return preds, nil
}
