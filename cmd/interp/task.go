package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/tokenizer"
)

// modelTokenizer returns the tokenizer of a model loaded from dir ("" for built-ins), nil if it
// has none.
func modelTokenizer(c model.Config, dir string) (tokenizer.Tokenizer, error) {
	if dir == "" && (c.Tokenizer == "" || c.Tokenizer == "dir") {
		return nil, nil
	}
	tok, err := tokenizer.ForModel(dir, c.Tokenizer)
	if errors.Is(err, tokenizer.ErrNoTokenizer) {
		return nil, nil
	}
	return tok, err
}

// taskFor resolves --task (and --seq-len, 0 for the default) for a model with tasks.ForModel:
// an empty name takes the task the model records. Bad names and lengths are usage errors.
func taskFor(name string, c model.Config, dir string, seqLen int) (tasks.Task, error) {
	tok, err := modelTokenizer(c, dir)
	if err != nil {
		return nil, err
	}
	t, err := tasks.ForModel(name, tasks.Model{Vocab: c.DVocab, NCtx: c.NCtx, Task: c.Task, Tokenizer: tok}, seqLen)
	switch {
	case errors.Is(err, tasks.ErrNoTask):
		return nil, usagef("--task is required: the model records no task (tasks: %s)", strings.Join(tasks.Names(), ", "))
	case errors.Is(err, tasks.ErrUnknown):
		return nil, usagef("--task: %v", strings.TrimPrefix(err.Error(), "tasks: "))
	case errors.Is(err, tasks.ErrSeqLen):
		return nil, usagef("--seq-len %d: %v", seqLen, strings.TrimPrefix(err.Error(), "tasks: "))
	case err != nil:
		return nil, fmt.Errorf("--task %s: %w", taskOrRecorded(name, c.Task), err)
	}
	return t, nil
}

// taskOrRecorded is name, or the model's recorded task when name is empty.
func taskOrRecorded(name, recorded string) string {
	if name == "" {
		return recorded
	}
	return name
}

// checkPairsMemory refuses, naming --flag, n clean/corrupted pairs whose activations (copies
// forward passes' worth) cannot fit in the memory available now. It draws one pair to learn the
// prompt length.
func checkPairsMemory(flag string, n int, t tasks.Task, c model.Config, copies float64) error {
	if n < 1 {
		return usagef("--%s %d: want at least 1", flag, n)
	}
	one, err := t.Pairs(0, 1)
	if err != nil || len(one.Clean) == 0 {
		return nil // the real call reports the task's error
	}
	p := len(one.Clean[0])
	if err := model.CheckMemory(fmt.Sprintf("--%s %d (pairs of %d tokens)", flag, n, p), copies*2*c.ActivationBytes(n, p)); err != nil {
		return usageError{err}
	}
	return nil
}
