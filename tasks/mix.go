package tasks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// MixPrefix starts the name of a mixture of tasks: "mix:ioi,colored-objects" trains on rows
// drawn from each task in turn at random, with equal probability.
const MixPrefix = "mix:"

// mix draws each training row from one of its tasks, chosen uniformly at random, and pads
// every row to the longest task's row length (after the row's end, where a causal model
// cannot see it, and outside the loss). All its tasks share one tokenizer: Options.Tokenizer,
// or ToyTokenizer when none is given (ToySurnameTokenizer when a task is ioi:names=surname), so
// that the toy word tasks (ioi, colored-objects) share one vocabulary. A mixture has no clean/corrupted pairs of its own: patching and discovery
// name one of its tasks.
type mix struct {
	name     string
	tasks    []Task
	length   int // the padded row length
	ownTok   bool
	surnames bool // the shared vocabulary is ToySurnameTokenizer (a task is ioi:names=surname)
}

// splitMixList splits a mixture's list at its commas, except that an item of the form key=value
// (no colon) continues the previous task's parameters: "colored-objects:color=after,questions=8,ioi"
// is two tasks.
func splitMixList(list string) []string {
	var names []string
	for _, item := range strings.Split(list, ",") {
		if k := len(names) - 1; k >= 0 && strings.Contains(item, "=") && !strings.Contains(item, ":") && strings.Contains(names[k], ":") {
			names[k] += "," + item
			continue
		}
		names = append(names, item)
	}
	return names
}

// surnameVocab reports whether a task of a mixture needs ToySurnameTokenizer's surnames.
func surnameVocab(name string) bool {
	if ioiSurnames(name) {
		return true
	}
	if !isColoredObjects(name) {
		return false
	}
	f, err := parseColoredForm(name)
	return err == nil && f.names
}

func newMix(name, list string, opt Options) (Task, error) {
	names := splitMixList(list)
	if len(names) < 2 {
		return nil, fmt.Errorf("a mixture names at least two tasks, separated by commas (e.g. %sioi,colored-objects)", MixPrefix)
	}
	m := &mix{name: name}
	if opt.Tokenizer == nil {
		opt.Tokenizer, m.ownTok = ToyTokenizer(), true
		if slices.ContainsFunc(names, surnameVocab) {
			opt.Tokenizer, m.surnames = ToySurnameTokenizer(), true
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		switch {
		case n == "":
			return nil, fmt.Errorf("empty task name in the list %q", list)
		case seen[n]:
			return nil, fmt.Errorf("task %q is listed twice", n)
		case strings.HasPrefix(n, MixPrefix):
			return nil, fmt.Errorf("a mixture cannot contain a mixture (%q)", n)
		}
		seen[n] = true
		t, err := New(n, opt)
		if err != nil {
			return nil, err
		}
		m.tasks = append(m.tasks, t)
		// Every task here has rows of one length; the longest sets the padding.
		b := t.Batch(rand.New(rand.NewPCG(0, 0)), 1)
		m.length = max(m.length, len(b.Tokens[0]))
	}
	return m, nil
}

func (m *mix) Name() string { return m.name }

// Parts returns the tasks of a mixture, in the order its name lists them (nil for any other
// task or value).
func Parts(t any) []Task {
	if m, ok := t.(*mix); ok {
		return m.tasks
	}
	return nil
}

func (m *mix) Batch(rng *rand.Rand, batch int) Batch {
	b := Batch{Tokens: make([][]int, batch), LossMask: make([][]bool, batch)}
	for i := range b.Tokens {
		row := m.tasks[rng.IntN(len(m.tasks))].Batch(rng, 1)
		toks := row.Tokens[0]
		var mask []bool
		if row.LossMask != nil {
			mask = row.LossMask[0]
		}
		if mask == nil {
			mask = make([]bool, len(toks)-1)
			for j := range mask {
				mask[j] = true
			}
		}
		if len(toks) > m.length {
			panic(fmt.Sprintf("tasks: %s: a row of %d tokens, longer than the %d measured", m.name, len(toks), m.length))
		}
		for len(toks) < m.length {
			toks = append(toks, IOIEndOfText)
			mask = append(mask, false)
		}
		b.Tokens[i], b.LossMask[i] = toks, mask
	}
	return b
}

// Pairs refuses: a mixture's tasks make pairs of different lengths and metrics.
func (m *mix) Pairs(uint64, int) (*Pairs, error) {
	var names []string
	for _, t := range m.tasks {
		names = append(names, t.Name())
	}
	return nil, fmt.Errorf("tasks: %s: a mixture has no pairs of its own; name one of its tasks (%s)", m.name, strings.Join(names, ", "))
}

// WriteTokenizer saves the shared toy vocabulary when the mixture chose it.
func (m *mix) WriteTokenizer(dir string) error {
	switch {
	case !m.ownTok:
		return nil
	case m.surnames:
		return WriteToySurnameTokenizer(dir)
	}
	return WriteToyTokenizer(dir)
}
