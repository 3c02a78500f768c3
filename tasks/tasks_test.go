package tasks

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// builtinTasks are the tasks every generic test runs on, with the vocabulary
// their ids must stay below.
var builtinTasks = []struct {
	name  string
	opt   Options
	vocab int
}{
	{"induction", Options{}, DefaultVocab},
	{"induction", Options{Vocab: 10, SeqLen: 8}, 10},
	{InductionNgram, Options{}, DefaultVocab},
	{InductionNgram, Options{Vocab: 10, SeqLen: 8}, 10},
	{"assoc-recall", Options{}, DefaultVocab},
	{"assoc-recall", Options{Vocab: 7, SeqLen: 32}, 7},
	{"icl-classify", Options{}, DefaultVocab},
	{"icl-classify", Options{Vocab: 20, SeqLen: 9}, 20},
	{"icl-classify:labels=8", Options{}, DefaultVocab},
	{"ioi", Options{}, 89},
	{"ioi", Options{Vocab: 100, SeqLen: 32, Template: 5}, 89},
	{"ioi-gpt2", Options{}, 50257},
	{ColoredObjects, Options{}, 127},
	{MixPrefix + "ioi," + ColoredObjects, Options{}, 127},
	{MixPrefix + "induction,icl-classify", Options{SeqLen: 40}, DefaultVocab},
	{"greater-than", Options{}, 50257},
}

func newTask(t *testing.T, name string, opt Options) Task {
	t.Helper()
	task, err := New(name, opt)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	return task
}

func checkIDs(t *testing.T, what string, rows [][]int, vocab int) {
	t.Helper()
	for i, r := range rows {
		for j, id := range r {
			if id < 0 || id >= vocab {
				t.Fatalf("%s[%d][%d] = %d, out of [0, %d)", what, i, j, id, vocab)
			}
		}
	}
}

func TestBatchShapes(t *testing.T) {
	for _, tc := range builtinTasks {
		t.Run(fmt.Sprintf("%s/%+v", tc.name, tc.opt), func(t *testing.T) {
			task := newTask(t, tc.name, tc.opt)
			if task.Name() != tc.name {
				t.Errorf("Name() = %q, want %q", task.Name(), tc.name)
			}
			const batch = 16
			b := task.Batch(seededRand(1), batch)
			if len(b.Tokens) != batch {
				t.Fatalf("len(Tokens) = %d, want %d", len(b.Tokens), batch)
			}
			p := len(b.Tokens[0])
			if tc.opt.SeqLen > 0 && p > tc.opt.SeqLen {
				t.Errorf("P = %d exceeds SeqLen %d", p, tc.opt.SeqLen)
			}
			for i, row := range b.Tokens {
				if len(row) != p {
					t.Fatalf("row %d has %d tokens, row 0 has %d", i, len(row), p)
				}
			}
			checkIDs(t, "Tokens", b.Tokens, tc.vocab)
			if b.LossMask == nil {
				return
			}
			if len(b.LossMask) != batch {
				t.Fatalf("len(LossMask) = %d, want %d", len(b.LossMask), batch)
			}
			for i, m := range b.LossMask {
				if len(m) != p-1 {
					t.Fatalf("LossMask[%d] has %d entries, want P-1 = %d", i, len(m), p-1)
				}
				if !slices.Contains(m, true) {
					t.Fatalf("LossMask[%d] is all false", i)
				}
			}
		})
	}
}

func TestPairsShapes(t *testing.T) {
	for _, tc := range builtinTasks {
		t.Run(fmt.Sprintf("%s/%+v", tc.name, tc.opt), func(t *testing.T) {
			task := newTask(t, tc.name, tc.opt)
			const n = 24
			p, err := task.Pairs(7, n)
			if strings.HasPrefix(tc.name, MixPrefix) {
				if err == nil || !strings.Contains(err.Error(), "a mixture has no pairs of its own") {
					t.Fatalf("Pairs of a mixture = %v, want a refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for what, l := range map[string]int{"Clean": len(p.Clean), "Corrupted": len(p.Corrupted), "Answer": len(p.Answer), "Wrong": len(p.Wrong), "Pos": len(p.Pos)} {
				if l != n {
					t.Fatalf("len(%s) = %d, want %d", what, l, n)
				}
			}
			plen := len(p.Clean[0])
			for i := range n {
				if len(p.Clean[i]) != plen || len(p.Corrupted[i]) != plen {
					t.Fatalf("row %d: clean %d and corrupted %d tokens, row 0 has %d", i, len(p.Clean[i]), len(p.Corrupted[i]), plen)
				}
				if p.Pos[i] < 0 || p.Pos[i] >= plen {
					t.Fatalf("row %d: Pos %d out of [0, %d)", i, p.Pos[i], plen)
				}
				if p.Answer[i] == p.Wrong[i] {
					t.Fatalf("row %d: Answer = Wrong = %d", i, p.Answer[i])
				}
				if slices.Equal(p.Clean[i], p.Corrupted[i]) {
					t.Fatalf("row %d: corrupted equals clean", i)
				}
			}
			checkIDs(t, "Clean", p.Clean, tc.vocab)
			checkIDs(t, "Corrupted", p.Corrupted, tc.vocab)
			checkIDs(t, "Answer", [][]int{p.Answer, p.Wrong}, tc.vocab)
			if p.Text != nil && len(p.Text) != n {
				t.Fatalf("len(Text) = %d, want %d", len(p.Text), n)
			}
			if _, err := task.Pairs(7, 0); err == nil {
				t.Error("Pairs(7, 0) did not fail")
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	for _, tc := range builtinTasks {
		t.Run(fmt.Sprintf("%s/%+v", tc.name, tc.opt), func(t *testing.T) {
			task := newTask(t, tc.name, tc.opt)
			// A second task value must give the same data: nothing depends
			// on state outside the seed.
			again := newTask(t, tc.name, tc.opt)
			a, b := task.Batch(seededRand(3), 8), again.Batch(seededRand(3), 8)
			if !slices.EqualFunc(a.Tokens, b.Tokens, slices.Equal) {
				t.Error("same rng seed gave different batches")
			}
			if c := task.Batch(seededRand(4), 8); slices.EqualFunc(a.Tokens, c.Tokens, slices.Equal) {
				t.Error("different rng seeds gave the same batch")
			}
			if strings.HasPrefix(tc.name, MixPrefix) {
				return // no pairs (TestPairsShapes)
			}
			p, _ := task.Pairs(11, 8)
			q, _ := again.Pairs(11, 8)
			r, _ := task.Pairs(12, 8)
			if !slices.EqualFunc(p.Clean, q.Clean, slices.Equal) || !slices.EqualFunc(p.Corrupted, q.Corrupted, slices.Equal) ||
				!slices.Equal(p.Answer, q.Answer) || !slices.Equal(p.Wrong, q.Wrong) {
				t.Error("same seed gave different pairs")
			}
			if slices.EqualFunc(p.Clean, r.Clean, slices.Equal) {
				t.Error("different seeds gave the same pairs")
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"nope", Options{}, `unknown task "nope"`},
		{"induction", Options{Vocab: 2}, "vocabulary of 2 ids is too small"},
		{"assoc-recall", Options{SeqLen: 4}, "sequence length 4 is too short"},
		{"icl-classify", Options{Vocab: 8}, "too small"},
		{"icl-classify:labels=1", Options{}, "labels=1: want an integer >= 2"},
		{"icl-classify:classes=3", Options{}, `unknown parameter "classes=3"`},
		{"icl-classify:labels=20", Options{Vocab: 32}, "too small"},
		{"ioi", Options{Vocab: 50}, "more than the model's vocabulary of 50"},
		{"ioi", Options{SeqLen: 16}, "do not fit the model's 16 positions"},
		{"ioi", Options{Template: 16}, "template 16 is out of range [1, 15]"},
		{"json:", Options{}, "no file"},
		{ColoredObjects, Options{Vocab: 100}, "more than the model's vocabulary of 100"},
		{ColoredObjects, Options{Tokenizer: IOITokenizer()}, "only 0 of the 12 colors are single tokens"},
		{MixPrefix + "ioi", Options{}, "at least two tasks"},
		{MixPrefix + "ioi,ioi", Options{}, `task "ioi" is listed twice`},
		{MixPrefix + "ioi,", Options{}, "empty task name"},
		{MixPrefix + "ioi,nope", Options{}, `unknown task "nope"`},
	} {
		_, err := New(tc.name, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %+v) = %v, want an error containing %q", tc.name, tc.opt, err, tc.want)
		}
	}
}

func TestNames(t *testing.T) {
	for _, name := range Names() {
		if strings.HasPrefix(name, JSONPrefix) || strings.HasPrefix(name, TextPrefix) {
			continue
		}
		if strings.HasPrefix(name, MixPrefix) {
			name = MixPrefix + "ioi," + ColoredObjects
		}
		if _, err := New(name, Options{}); err != nil {
			t.Errorf("New(%q): %v", name, err)
		}
	}
}
