package workbench

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/interp-dev/interp/attrgraph"
	"github.com/interp-dev/interp/circuits"
	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/internal/atomicfile"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/tokenizer"
	"github.com/interp-dev/interp/train"
	"github.com/interp-dev/interp/transcoder"
)

// The fixture is a --runs folder made by the library, as the commands would make it: two short
// training runs (one clamped), a discover result on planted-ioi, an SAE on ioi-toy and an
// attribution graph of an IOI prompt. It is built once per test binary.
var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
	ioiToy      *model.Model
	ioiToyDir   string // its embedded folder (tokenizer)
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func loadModel(name string) (*model.Model, string, error) {
	w, dir, err := model.LoadAny(name)
	if err != nil {
		return nil, "", err
	}
	b, bn, err := model.NewBackend("")
	if err != nil {
		return nil, "", err
	}
	m, err := model.New(w, b, bn)
	return m, dir, err
}

// fixture returns the served model (ioi-toy) and the runs folder.
func fixture(t testing.TB) (*model.Model, string) {
	t.Helper()
	fixtureOnce.Do(func() { fixtureDir, fixtureErr = buildFixture() })
	if fixtureErr != nil {
		t.Fatalf("fixture: %v", fixtureErr)
	}
	return ioiToy, fixtureDir
}

func buildFixture() (string, error) {
	dir, err := os.MkdirTemp("", "workbench-fixture-")
	if err != nil {
		return "", err
	}
	if ioiToy, ioiToyDir, err = loadModel("ioi-toy"); err != nil {
		return "", err
	}
	// Training runs: a small attention-only model on the induction task, plain and clamped.
	for _, run := range []struct{ name, clamp string }{{"baseline", ""}, {"clamped", "blocks.0.attn.hook_pattern[head=2]=prev-token"}} {
		w, err := model.NewRandomWeights(model.AttnOnlyToy(2, 4, 32, 32, 32), 1)
		if err != nil {
			return "", err
		}
		m, err := model.New(w, ioiToy.Backend, ioiToy.BackendName)
		if err != nil {
			return "", err
		}
		task, err := tasks.New("induction", tasks.Options{Vocab: 32, SeqLen: 32})
		if err != nil {
			return "", err
		}
		var clamps []train.Clamp
		if run.clamp != "" {
			c, err := train.ParseClamp(run.clamp)
			if err != nil {
				return "", err
			}
			clamps = append(clamps, c)
		}
		cfg := train.DefaultConfig()
		cfg.Steps, cfg.EvalEvery, cfg.Batch, cfg.SeqLen = 40, 10, 8, 32
		cfg.OutDir = filepath.Join(dir, "runs", run.name)
		if _, err := train.Run(context.Background(), m, task, cfg, clamps...); err != nil {
			return "", err
		}
	}
	// A discover result with a ground truth.
	planted, _, err := loadModel("planted-ioi")
	if err != nil {
		return "", err
	}
	p, _ := circuits.LookupPlanted("planted-ioi")
	task, err := tasks.New(p.Task, tasks.Options{Vocab: planted.Config.DVocab})
	if err != nil {
		return "", err
	}
	res, err := circuits.Discover(planted, "planted-ioi", task, circuits.Options{Method: circuits.EAP, Examples: 10, Truth: &p.Circuit})
	if err != nil {
		return "", err
	}
	data, err := circuits.MarshalIndentJSON(res)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "eap-planted-ioi.json"), data, 0o644); err != nil {
		return "", err
	}
	// The EAP circuit against the planted one, as interp discover --compare writes it.
	nodes, edges := circuits.Compare(res.Circuit, p.Circuit)
	if err := nodes.SetChance(len(res.NodeScores)); err != nil { // both among planted-ioi's heads
		return "", err
	}
	if data, err = circuits.MarshalIndentJSON(map[string]any{"a": "eap", "b": "planted", "nodes": nodes, "edges": edges}); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "eap-vs-planted.json"), data, 0o644); err != nil {
		return "", err
	}
	// An SAE on ioi-toy's last residual stream (random weights: the pages, not the SAE, are tested).
	c := ioiToy.Config
	s, err := sae.NewRandom(sae.Config{Arch: sae.ReLU, DIn: c.DModel, DSAE: 64, ApplyBDecToInput: true, Site: sae.Site{Hook: hooks.ResidPost(1)},
		Meta: sae.Meta{ModelName: "ioi-toy", DatasetPath: "task:ioi"}}, ioiToy.Backend, sae.InitOptions{Seed: 1, DecoderNorm: 1, EncoderFromDecoder: true})
	if err != nil {
		return "", err
	}
	if err := sae.Save(s, filepath.Join(dir, "sae-resid1")); err != nil {
		return "", err
	}
	// A cross-layer transcoder (random weights).
	clt, err := transcoder.NewRandomCLT(c, transcoder.CLTSpec{Arch: sae.ReLU, DSAE: 32}, ioiToy.Backend, 2)
	if err != nil {
		return "", err
	}
	if err := transcoder.SaveCLT(clt, filepath.Join(dir, "clt"), sae.Meta{ModelName: "ioi-toy", DatasetPath: "task:ioi"}); err != nil {
		return "", err
	}
	// An attribution graph over random transcoders.
	var ts []*sae.SAE
	for l := range c.NLayers {
		sc, err := transcoder.NewConfig(c, transcoder.Spec{Layer: l, Arch: sae.ReLU, DSAE: 32})
		if err != nil {
			return "", err
		}
		t, err := sae.NewRandom(sc, ioiToy.Backend, sae.InitOptions{DecoderNorm: 1, Seed: uint64(l)})
		if err != nil {
			return "", err
		}
		ts = append(ts, t)
	}
	tok := tasks.IOITokenizer()
	words, err := tok.Encode("When Mary and John went to the store , John gave a drink to")
	if err != nil {
		return "", err
	}
	bos, err := tokenizer.SingleToken(tok, tokenizer.EndOfTextToken)
	if err != nil {
		return "", err
	}
	ids := append([]int{bos}, words...)
	g, err := attrgraph.Build(ioiToy, ts, ids, attrgraph.Options{MaxLogits: 3})
	if err != nil {
		return "", err
	}
	pr, err := g.Prune(0.95, 0.99)
	if err != nil {
		return "", err
	}
	f := g.File(pr, attrgraph.Metadata{Slug: "ioi", Prompt: "When Mary and John went to the store , John gave a drink to"}, tok.TokenString)
	if err := atomicfile.Write(filepath.Join(dir, "graph-ioi.json"), f.WriteJSON); err != nil {
		return "", err
	}
	return dir, nil
}
