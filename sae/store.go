package sae

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/internal/ahead"
	"github.com/interp-dev/interp/model"
)

// StoreOptions configure an ActivationStore.
type StoreOptions struct {
	Site   Site
	Target Site // transcoders: the hook the SAE reconstructs; zero value = Site
	// SeqBatch is the number of token rows per model run; default 32.
	SeqBatch int
	// SkipBOS leaves position 0 of every sequence out.
	SkipBOS bool
	// BufferRows is the size of the shuffling buffer in rows; default 32768. The buffer is filled
	// to BufferRows, shuffled, and half of it served, so each batch mixes rows of many runs.
	BufferRows int
	// Normalize scales activations by a constant so their mean norm is sqrt(width) (SAELens
	// "expected_average_only_in", Anthropic's April 2024 update), estimated on NormRuns model
	// runs (default 8). ScaleIn/ScaleOut, when non-zero, are used instead (resuming a run).
	Normalize         bool
	NormRuns          int
	ScaleIn, ScaleOut float64
	// CacheDir, when set, keeps the raw activations on disk: a later store with the same
	// CacheKey replays them instead of running the model (and extends the cache past them).
	CacheDir string
	CacheKey string
	// Prefetch runs the model in a goroutine of its own, up to half a buffer of model runs ahead
	// of the rows served, so that generating activations overlaps training on them. The rows are
	// the same as without it; the source is read ahead. Close stops the goroutine.
	Prefetch bool
}

// ActivationStore streams SAE training rows from a model: token batches from a source run
// through the model, the site's activations become rows, and rows leave through a shuffling
// buffer (optionally scaled). It implements Batches.
type ActivationStore struct {
	src  TokenSource
	opt  StoreOptions
	acts *activationRunner
	dIn  int
	dOut int
	two  bool // a separate target hook
	rng  *rand.Rand

	bufX, bufY     []float32 // the shuffling buffer (raw activations)
	readyX, readyY []float32 // shuffled rows waiting to be served
	scaleIn        float64
	scaleOut       float64

	ahead ahead.Reader[chunk] // Prefetch: model runs made ahead, in order

	runs     int  // model runs (or cache chunks) consumed
	cached   int  // chunks in the cache directory
	replayed int  // chunks replayed so far
	skipped  bool // the source has been moved past the cached batches
	// Tokens is the number of token positions run through the model so far.
	Tokens int64
	seqLen int
}

type cacheManifest struct {
	Key    string `json:"key"`
	DIn    int    `json:"d_in"`
	DOut   int    `json:"d_out"`
	Chunks int    `json:"chunks"`
}

// NewActivationStore checks the sites against the model and, with Normalize, estimates the
// scaling factors.
func NewActivationStore(m *model.Model, src TokenSource, seed uint64, opt StoreOptions) (*ActivationStore, error) {
	if opt.SeqBatch == 0 {
		opt.SeqBatch = 32
	}
	if opt.BufferRows == 0 {
		opt.BufferRows = 1 << 15
	}
	if opt.NormRuns == 0 {
		opt.NormRuns = 8
	}
	if opt.SeqBatch < 0 || opt.BufferRows < 2 || opt.NormRuns < 0 {
		return nil, fmt.Errorf("sae: store: bad sizes (seq batch %d, buffer rows %d)", opt.SeqBatch, opt.BufferRows)
	}
	s := &ActivationStore{src: src, opt: opt, rng: rand.New(rand.NewPCG(seed, 0x5707e)), scaleIn: 1, scaleOut: 1}
	var err error
	if s.dIn, err = SiteWidth(m.Config, opt.Site); err != nil {
		return nil, err
	}
	s.two = opt.Target.Hook != "" && opt.Target != opt.Site
	s.dOut = s.dIn
	names := []string{opt.Site.Hook}
	if s.two {
		if s.dOut, err = SiteWidth(m.Config, opt.Target); err != nil {
			return nil, err
		}
		names = append(names, opt.Target.Hook)
	}
	s.acts = newActivationRunner(m, names...)
	if opt.CacheDir != "" {
		if err := s.openCache(); err != nil {
			return nil, err
		}
	}
	switch {
	case opt.ScaleIn > 0:
		s.scaleIn, s.scaleOut = opt.ScaleIn, opt.ScaleOut
		if s.scaleOut <= 0 {
			s.scaleOut = s.scaleIn
		}
	case opt.Normalize:
		for range opt.NormRuns {
			if err := s.fill(); err != nil {
				return nil, err
			}
		}
		s.scaleIn = math.Sqrt(float64(s.dIn)) / meanNorm(s.bufX, s.dIn)
		s.scaleOut = s.scaleIn
		if s.two {
			s.scaleOut = math.Sqrt(float64(s.dOut)) / meanNorm(s.bufY, s.dOut)
		}
		if math.IsInf(s.scaleIn, 0) || math.IsNaN(s.scaleIn) || math.IsInf(s.scaleOut, 0) || math.IsNaN(s.scaleOut) {
			return nil, fmt.Errorf("sae: store: activations at %s are all zero; cannot normalise them", opt.Site)
		}
	}
	return s, nil
}

func meanNorm(rows []float32, d int) float64 {
	n := len(rows) / d
	var total float64
	for r := range n {
		total += norm(rows[r*d : (r+1)*d])
	}
	return total / float64(n)
}

// DIn and DOut are the widths of the rows served.
func (s *ActivationStore) DIn() int  { return s.dIn }
func (s *ActivationStore) DOut() int { return s.dOut }

// Scales returns the factors the served rows are multiplied by (1 without normalisation).
func (s *ActivationStore) Scales() (in, out float64) { return s.scaleIn, s.scaleOut }

// Next returns n shuffled rows (scaled): x [n*DIn] and, with a separate target, y [n*DOut].
func (s *ActivationStore) Next(n int) (x, y []float32, err error) {
	for len(s.readyX) < n*s.dIn {
		for len(s.bufX) < s.opt.BufferRows*s.dIn {
			if err := s.fill(); err != nil {
				return nil, nil, err
			}
		}
		s.shuffleHalf()
	}
	x = scaleCopy(s.readyX[:n*s.dIn], s.scaleIn)
	s.readyX = s.readyX[n*s.dIn:]
	if s.two {
		y = scaleCopy(s.readyY[:n*s.dOut], s.scaleOut)
		s.readyY = s.readyY[n*s.dOut:]
	}
	return x, y, nil
}

func scaleCopy(v []float32, f float64) []float32 {
	out := make([]float32, len(v))
	if f == 1 {
		copy(out, v)
		return out
	}
	for i, x := range v {
		out[i] = float32(float64(x) * f)
	}
	return out
}

// shuffleHalf shuffles the buffer and moves half of it to the ready rows.
func (s *ActivationStore) shuffleHalf() {
	rows := len(s.bufX) / s.dIn
	perm := s.rng.Perm(rows)
	half := rows / 2
	keepX := make([]float32, 0, s.opt.BufferRows*s.dIn+len(s.bufX)/2)
	readyX := append([]float32(nil), s.readyX...)
	var keepY, readyY []float32
	if s.two {
		readyY = append([]float32(nil), s.readyY...)
	}
	for i, r := range perm {
		xr := s.bufX[r*s.dIn : (r+1)*s.dIn]
		if i < half {
			readyX = append(readyX, xr...)
		} else {
			keepX = append(keepX, xr...)
		}
		if s.two {
			yr := s.bufY[r*s.dOut : (r+1)*s.dOut]
			if i < half {
				readyY = append(readyY, yr...)
			} else {
				keepY = append(keepY, yr...)
			}
		}
	}
	s.bufX, s.bufY, s.readyX, s.readyY = keepX, keepY, readyX, readyY
}

// fill adds the rows of one model run (or cached chunk) to the buffer.
func (s *ActivationStore) fill() error {
	if s.replayed < s.cached {
		x, y, err := s.readChunk(s.replayed)
		if err != nil {
			return err
		}
		s.replayed++
		s.runs++
		s.bufX = append(s.bufX, x...)
		s.bufY = append(s.bufY, y...)
		return nil
	}
	if s.cached > 0 && !s.skipped {
		// The cache is used up: move the source past the batches it holds.
		for range s.cached {
			if _, err := s.src.Tokens(s.opt.SeqBatch); err != nil {
				return err
			}
		}
		s.skipped = true
	}
	c := s.nextChunk()
	if c.err != nil {
		return c.err
	}
	if len(c.x) == 0 {
		return errNoRows
	}
	nx, ny := len(s.bufX), len(s.bufY)
	s.bufX = append(s.bufX, c.x...)
	s.bufY = append(s.bufY, c.y...)
	s.runs++
	s.Tokens += c.tokens
	s.seqLen = c.seqLen
	if s.opt.CacheDir != "" {
		if err := s.writeChunk(s.runs-1, s.bufX[nx:], s.bufY[ny:]); err != nil {
			return err
		}
	}
	return nil
}

// chunk is the rows of one model run.
type chunk struct {
	x, y   []float32
	tokens int64 // token positions run
	seqLen int
	err    error
}

// runChunk runs the model on the source's next batch. It reads only the source, the runner and
// the options, so that it can run in the prefetching goroutine.
func (s *ActivationStore) runChunk() chunk {
	rows, err := s.src.Tokens(s.opt.SeqBatch)
	if err != nil {
		return chunk{err: err}
	}
	tokens, err := model.Tokens(rows)
	if err != nil {
		return chunk{err: fmt.Errorf("sae: store: %s: %w", s.src.Name(), err)}
	}
	acts, err := s.acts.run(tokens)
	if err != nil {
		return chunk{err: err}
	}
	c := chunk{tokens: int64(len(rows) * len(rows[0])), seqLen: len(rows[0])}
	c.x = appendSite(nil, s.opt.Site, acts[s.opt.Site.Hook], s.opt.SkipBOS)
	if s.two {
		c.y = appendSite(nil, s.opt.Target, acts[s.opt.Target.Hook], s.opt.SkipBOS)
	}
	return c
}

// nextChunk returns the next model run's rows: made now, or by the prefetching goroutine (started
// on first use), which keeps up to half a buffer of runs ready.
func (s *ActivationStore) nextChunk() chunk {
	if !s.opt.Prefetch {
		return s.runChunk()
	}
	last := func(c chunk) bool { return c.err != nil || len(c.x) == 0 } // the consumer stops on it
	if !s.ahead.Running() {
		first := s.runChunk() // its size sets how many runs half a buffer holds
		if last(first) {
			return first
		}
		s.ahead.Start(s.opt.BufferRows/2/(len(first.x)/s.dIn), s.runChunk, last)
		return first
	}
	return s.ahead.Next(last) // after the last chunk the goroutine has ended; a later call starts afresh
}

// Close stops the prefetching goroutine (a no-op without Prefetch); a later Next starts it again.
// Training jobs close their store when they finish.
func (s *ActivationStore) Close() { s.ahead.Stop() }

func appendSite(dst []float32, site Site, act *tensors.Tensor, skipBOS bool) []float32 {
	tensors.MustConstFlatData(act, func(v []float32) {
		dst = siteRows(dst, site, act.Shape().Dimensions, v, skipBOS)
	})
	return dst
}

// Disk cache: CacheDir/chunk_NNNNNN.safetensors holds one model run's raw rows ("x", and "y"
// with a target); manifest.json names the key and the number of chunks, and is rewritten after
// each new chunk (atomically), so an interrupted run leaves a usable cache.

func (s *ActivationStore) openCache() error {
	if err := os.MkdirAll(s.opt.CacheDir, 0o755); err != nil {
		return fmt.Errorf("sae: activation cache: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(s.opt.CacheDir, "manifest.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sae: activation cache: %w", err)
	}
	var man cacheManifest
	if err := json.Unmarshal(raw, &man); err != nil {
		return fmt.Errorf("sae: activation cache %s: manifest.json: %w", s.opt.CacheDir, err)
	}
	if man.Key != s.opt.CacheKey || man.DIn != s.dIn || man.DOut != s.dOut {
		return nil // another run's cache: overwritten as this run goes
	}
	s.cached = man.Chunks
	return nil
}

func (s *ActivationStore) chunkPath(i int) string {
	return filepath.Join(s.opt.CacheDir, fmt.Sprintf("chunk_%06d.safetensors", i))
}

func (s *ActivationStore) readChunk(i int) (x, y []float32, err error) {
	ts, _, err := model.ReadSafetensors(s.chunkPath(i))
	if err != nil {
		return nil, nil, fmt.Errorf("sae: activation cache: %w", err)
	}
	get := func(name string, d int) ([]float32, error) {
		t, ok := ts[name]
		if !ok || t.Rank() != 2 || t.Shape().Dimensions[1] != d {
			return nil, fmt.Errorf("sae: activation cache %s: missing or mis-shaped tensor %q (want [rows, %d])", s.chunkPath(i), name, d)
		}
		return tensors.MustCopyFlatData[float32](t), nil
	}
	if x, err = get("x", s.dIn); err != nil {
		return nil, nil, err
	}
	if s.two {
		if y, err = get("y", s.dOut); err != nil {
			return nil, nil, err
		}
	}
	return x, y, nil
}

func (s *ActivationStore) writeChunk(i int, x, y []float32) error {
	ts := map[string]*tensors.Tensor{"x": tensors.FromFlatDataAndDimensions(x, len(x)/s.dIn, s.dIn)}
	if s.two {
		ts["y"] = tensors.FromFlatDataAndDimensions(y, len(y)/s.dOut, s.dOut)
	}
	if err := model.WriteSafetensors(s.chunkPath(i), ts, nil); err != nil {
		return fmt.Errorf("sae: activation cache: %w", err)
	}
	man, _ := json.Marshal(cacheManifest{Key: s.opt.CacheKey, DIn: s.dIn, DOut: s.dOut, Chunks: i + 1})
	return writeFileAtomic(filepath.Join(s.opt.CacheDir, "manifest.json"), man)
}
