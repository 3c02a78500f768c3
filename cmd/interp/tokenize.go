package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tokenizer"
)

func cmdTokenize(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", stderr)
	text := fs.String("text", "", "text to tokenize")
	modelSpec := fs.String("model", "", "model directory or built-in name whose tokenizer to use (default: GPT-2's)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var tok tokenizer.Tokenizer
	var err error
	if *modelSpec == "" {
		tok, err = tokenizer.GPT2()
	} else {
		var w *model.Weights
		var dir string
		if w, dir, err = model.LoadAny(*modelSpec); err != nil {
			return err
		}
		tok, err = tokenizer.ForModel(dir, w.Config.Tokenizer)
	}
	if err != nil {
		return err
	}
	ids, err := tok.Encode(*text)
	if err != nil {
		return err
	}
	data, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(data))
	return nil
}
