package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/interp-dev/interp/model"
)

func cmdInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("info", stderr)
	modelSpec := fs.String("model", model.DefaultModel, "model directory or built-in name")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	if err := parse(fs, args); err != nil {
		return err
	}
	w, _, err := model.LoadAny(*modelSpec)
	if err != nil {
		return err
	}
	c := w.Config
	points := model.HookPoints(c, 1, c.NCtx)
	if *asJSON {
		type hp struct {
			Name string   `json:"name"`
			Dims []string `json:"dims"`
		}
		var hps []hp
		for _, p := range points {
			hps = append(hps, hp{p.Name, dimsWithSizes(c, p.Dims)})
		}
		data, err := json.MarshalIndent(map[string]any{"config": c, "hook_points": hps}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(data))
		return nil
	}
	cfg, _ := json.MarshalIndent(c, "", "  ")
	fmt.Fprintf(stdout, "model %s\nconfig %s\n%d hook points:\n", *modelSpec, cfg, len(points))
	for _, p := range points {
		fmt.Fprintf(stdout, "  %-36s [%s]\n", p.Name, strings.Join(dimsWithSizes(c, p.Dims), ", "))
	}
	return nil
}

// dimsWithSizes labels fixed dimensions with their sizes: "head=12", "d_model=768".
func dimsWithSizes(c model.Config, dims []string) []string {
	out := make([]string, len(dims))
	for i, d := range dims {
		size := map[string]int{"head": c.NHeads, "kv_head": c.KVHeads(), "d_head": c.DHead, "d_model": c.DModel, "d_mlp": c.DMLP,
			"head*d_head": c.NHeads * c.DHead, "kv_head*d_head": c.KVHeads() * c.DHead}[d]
		if size > 0 {
			out[i] = fmt.Sprintf("%s=%d", d, size)
		} else {
			out[i] = d
		}
	}
	return out
}

func cmdModels(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("models", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	for _, n := range model.BuiltinNames() {
		fmt.Fprintln(stdout, n)
	}
	return nil
}
