package model

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
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
// before anything runs.
func (m *Model) RunToFile(tokens *tensors.Tensor, names []string, path, modelName string) error {
	for _, n := range names {
		if !HasHook(m.Config, n) {
			return fmt.Errorf("unknown hook point %q (`interp info` lists the %d hook points of this model)", n, len(HookNames(m.Config)))
		}
	}
	out, err := m.Run(tokens, hooks.New().Cache(names...))
	if err != nil {
		return err
	}
	ts := map[string]*tensors.Tensor{"logits": out.Logits}
	for _, n := range out.Cache.Names() {
		ts[n] = out.Cache.MustGet(n)
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	meta := map[string]string{"backend": m.BackendName, "model": modelName, "hooks": strings.Join(sorted, ",")}
	return WriteSafetensors(path, ts, meta)
}
