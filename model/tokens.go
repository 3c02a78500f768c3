package model

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/internal/atomicfile"
)

// ReadTokensFile reads a JSON array of equal-length token-id arrays, e.g. [[1, 2, 3], [4, 5, 6]].
func ReadTokensFile(path string) ([][]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	var rows [][]int
	if err := json.Unmarshal(data, &rows); err != nil {
		return nil, fmt.Errorf("tokens file %s: want a JSON array of token-id arrays: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("tokens file %s: no rows", path)
	}
	for i, r := range rows {
		if len(r) != len(rows[0]) {
			return nil, fmt.Errorf("tokens file %s: row %d has %d tokens, row 0 has %d (rows must have equal length)", path, i, len(r), len(rows[0]))
		}
	}
	return rows, nil
}

// RunToFile runs the model on tokens, caching the named hook points, and writes "logits"
// [B, P, V] and each cached activation under its hook name to a safetensors file (float32),
// with the backend and model recorded in the file's metadata. Unknown hook names are an error
// before anything runs. The rows run in chunks whose activations fit RunToFileBudget, and each
// chunk's rows are written into their place in the file as it finishes, so peak memory is one
// chunk's, however many rows there are.
func (m *Model) RunToFile(tokens *tensors.Tensor, names []string, path, modelName string) error {
	dims := tokens.Shape().Dimensions
	if len(dims) != 2 {
		return fmt.Errorf("model: run: tokens of shape %v, want [batch, pos]", dims)
	}
	// Per row: the forward's activations, and the logits three times over (the graph's output, its
	// copy to the host, the bytes written).
	perRow := m.Config.ActivationBytes(1, dims[1]) + 3*4*float64(dims[1])*float64(m.Config.DVocab)
	rows := max(1, int(float64(RunToFileBudget)/perRow))
	return m.runToFile(tokens, names, path, modelName, rows)
}

// RunToFileBudget is the activation memory, in bytes, one chunk of RunToFile may use (1 GiB).
var RunToFileBudget int64 = 1 << 30

// runToFile is RunToFile with rowsPerChunk rows per forward pass.
func (m *Model) runToFile(tokens *tensors.Tensor, names []string, path, modelName string, rowsPerChunk int) error {
	c := m.Config
	for _, n := range names {
		if !HasHook(c, n) {
			return fmt.Errorf("unknown hook point %q (`interp info` lists the %d hook points of this model)", n, len(HookNames(c)))
		}
	}
	if err := m.CheckTokens(tokens); err != nil {
		return err
	}
	B, P := tokens.Shape().Dimensions[0], tokens.Shape().Dimensions[1]
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	shapes := map[string][]int{"logits": {B, P, c.DVocab}}
	for _, h := range HookPoints(c, B, P) {
		if want[h.Name] {
			if len(h.Dims) == 0 || h.Dims[0] != "batch" {
				return fmt.Errorf("model: run: hook point %s has no leading batch axis", h.Name)
			}
			shapes[h.Name] = h.Shape
		}
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	meta := map[string]string{"backend": m.BackendName, "model": modelName, "hooks": strings.Join(sorted, ",")}
	layout, err := newSafetensorsLayout(shapes, meta)
	if err != nil {
		return fmt.Errorf("model: safetensors %s: %w", path, err)
	}
	if err := checkDisk(path, layout.size()); err != nil {
		return err
	}
	ids := tensors.MustCopyFlatData[int32](tokens)
	return atomicfile.WriteFile(path, func(f *os.File) error {
		if err := layout.writeHeader(f); err != nil {
			return err
		}
		for b0 := 0; b0 < B; b0 += rowsPerChunk {
			b1 := min(B, b0+rowsPerChunk)
			chunk := tensors.FromFlatDataAndDimensions(ids[b0*P:b1*P], b1-b0, P)
			out, err := m.Run(chunk, hooks.New().Cache(names...))
			if err != nil {
				return err
			}
			ts := map[string]*tensors.Tensor{"logits": out.Logits}
			for _, n := range out.Cache.Names() {
				ts[n] = out.Cache.MustGet(n)
			}
			for name, t := range ts {
				if err := layout.writeRows(f, name, b0, tensors.MustCopyFlatData[float32](t)); err != nil {
					return err
				}
				_ = t.FinalizeAll()
			}
		}
		return nil
	})
}
