package train

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/internal/progress"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// Task is what training needs from a task (tasks.Task has it): a name and seeded batches.
type Task interface {
	Name() string
	Batch(rng *rand.Rand, batch int) tasks.Batch
}

// Result is what a run returns.
type Result struct {
	// Weights are the trained weights (host tensors; the model passed to Run is not changed).
	Weights *model.Weights
	// Steps is the number of completed steps; ResumedFrom the step of the checkpoint the run
	// continued from (0 for a fresh run).
	Steps, ResumedFrom int
	// Loss is the last step's training loss.
	Loss float64
	// Evals are the progress measures logged every EvalEvery steps (including those of the run
	// this one resumed).
	Evals       []Metrics
	PhaseChange PhaseChange
	Backend     string
	Elapsed     time.Duration
}

// Run trains m's weights on task with cfg, holding every clamp at every step. It returns when
// cfg.Steps steps are done or ctx is cancelled (then with ctx's error and the result so far).
//
// With cfg.OutDir set, Run checkpoints every cfg.CheckpointEvery steps and at the end, appends
// metrics.jsonl, and writes summary.json and progress.png; when OutDir already holds a
// checkpoint, it resumes from it (the weights in m are then not used) and ends with the same
// weights, bit for bit, as an uninterrupted run. It refuses to resume a checkpoint whose
// config, clamps, task or model differ, naming what differs.
//
// Clamps are checked before anything is compiled or trained: an unknown hook, a head or
// position out of range, or a value that does not fit is an error naming the hook.
func Run(ctx context.Context, m *model.Model, task Task, cfg Config, clamps ...Clamp) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := m.Config
	_, pos, err := checkedBatch(task, cfg, c, 0)
	if err != nil {
		return nil, err
	}
	plan, err := newClampPlan(c, pos, clamps)
	if err != nil {
		return nil, err
	}
	if err := plan.moveTo(m.Backend); err != nil {
		return nil, err
	}
	descs := make([]string, len(clamps))
	for i, cl := range clamps {
		descs[i] = cl.String()
	}

	tok, err := readTokenizerFiles(cfg.TokenizerFrom)
	if err != nil {
		return nil, err
	}
	st := newAdamState(m.Weights)
	res := &Result{Backend: m.BackendName}
	var prevElapsed float64
	var lossSum float64 // training losses since the last evaluation, and their count
	lossN := 0
	if cfg.OutDir != "" {
		if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
			return nil, fmt.Errorf("train: --out %s: %w", cfg.OutDir, err)
		}
		removeStaleTemps(cfg.OutDir)
		state, saved, err := loadCheckpoint(cfg.OutDir)
		if err != nil {
			return nil, err
		}
		if state != nil {
			if err := checkResume(state, cfg, c, task.Name(), pos, descs); err != nil {
				return nil, err
			}
			st, res.ResumedFrom, prevElapsed = saved, state.Step, state.ElapsedS
			lossSum, lossN = state.LossSum, state.LossSteps
		}
		if res.Evals, err = truncateMetrics(cfg.OutDir, res.ResumedFrom); err != nil {
			return nil, err
		}
	}

	rows := cfg.Batch + len(plan.refRows)
	step, err := newStepExec(m.Backend, c, cfg, plan, cfg.Batch)
	if err != nil {
		return nil, err
	}
	eval, err := newEvalSet(m.Backend, c, cfg.Seed, pos, plan)
	if err != nil {
		return nil, err
	}

	// Tasks with a right and a wrong answer are also scored on held-out prompts at each evaluation.
	pt, hasPairs := task.(PairsTask)
	scorePairs := hasPairs && !InductionMeasured(task.Name()) && pairsOK(pt)
	// A mixture is scored task by task.
	var parts []tasks.Task
	for _, t := range tasks.Parts(task) {
		if !InductionMeasured(t.Name()) && pairsOK(t) {
			parts = append(parts, t)
		}
	}
	// Each task's held-out prompts are compiled once into a scoring pass of the weights alone and,
	// in a run with clamps, one with the clamps in place (the model being trained).
	free, err := newClampPlan(c, pos, nil)
	if err != nil {
		return nil, err
	}
	type scorers struct{ alone, clamped *pairScorer }
	scoring := map[string]scorers{}
	addScorers := func(t PairsTask, name string) error {
		var sc scorers
		var err error
		if sc.alone, err = newPairScorer(m.Backend, c, free, pos, t, name, cfg.Seed); err != nil {
			return err
		}
		if len(clamps) > 0 {
			if sc.clamped, err = newPairScorer(m.Backend, c, plan, pos, t, name, cfg.Seed); err != nil {
				return err
			}
		}
		scoring[name] = sc
		return nil
	}
	if scorePairs {
		if err := addScorers(pt, task.Name()); err != nil {
			return nil, err
		}
	}
	for _, t := range parts {
		if err := addScorers(t, t.Name()); err != nil {
			return nil, err
		}
	}
	scoreTask := func(name string) (withClamps, weightsAlone *PairScore, err error) {
		sc := scoring[name]
		if weightsAlone, err = sc.alone.score(st.params); err != nil {
			return nil, nil, err
		}
		if sc.clamped == nil {
			return weightsAlone, nil, nil
		}
		withClamps, err = sc.clamped.score(st.params)
		return withClamps, weightsAlone, err
	}

	start := time.Now()
	elapsed := func() float64 { return prevElapsed + time.Since(start).Seconds() }
	bar := progress.New(cfg.Steps-res.ResumedFrom, fmt.Sprintf("train %s", task.Name()))
	defer bar.Finish()
	res.Steps = res.ResumedFrom
	if cfg.OutDir != "" && cfg.SnapshotEvery > 0 && res.ResumedFrom == 0 {
		if err := saveSnapshot(cfg.OutDir, 0, c, st, task, tok); err != nil {
			return nil, err
		}
	}
	for s := res.ResumedFrom; s < cfg.Steps; s++ {
		if err := ctx.Err(); err != nil {
			return finish(res, st, c, elapsed()), err
		}
		batch, _, err := checkedBatch(task, cfg, c, s)
		if err != nil {
			return nil, err
		}
		tokens, err := model.Tokens(plan.withRefRows(batch.Tokens))
		if err != nil {
			return nil, err
		}
		mask := maskTensor(batch.LossMask, cfg.Batch, rows, pos)
		lr := cfg.LRAt(s)
		loss, norm, err := step.run(st, cfg, s+1, lr, tokens, mask)
		if err != nil {
			return nil, err
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("train: loss is %g at step %d (lower --lr or check the data)", loss, s+1)
		}
		res.Steps, res.Loss = s+1, loss
		lossSum, lossN = lossSum+loss, lossN+1
		done := s + 1
		bar.Add(1, fmt.Sprintf("loss %.4f", loss))
		tokensSeen := int64(done) * int64(cfg.Batch*pos)
		if every(done, cfg.EvalEvery, cfg.Steps) {
			ev, err := eval.run(st.params)
			if err != nil {
				return nil, err
			}
			mt := newMetrics(done, loss, lr, norm, tokensSeen, elapsed(), ev)
			mt.MeanLoss, lossSum, lossN = lossSum/float64(lossN), 0, 0
			if scorePairs {
				if mt.Pairs, mt.PairsUnclamped, err = scoreTask(task.Name()); err != nil {
					return nil, err
				}
			}
			for _, t := range parts {
				if mt.PairsByTask == nil {
					mt.PairsByTask = map[string]*PairScore{}
				}
				with, alone, err := scoreTask(t.Name())
				if err != nil {
					return nil, err
				}
				mt.PairsByTask[t.Name()] = with
				if alone != nil {
					if mt.PairsByTaskUnclamped == nil {
						mt.PairsByTaskUnclamped = map[string]*PairScore{}
					}
					mt.PairsByTaskUnclamped[t.Name()] = alone
				}
			}
			res.Evals = append(res.Evals, mt)
			if cfg.OutDir != "" {
				if err := appendMetrics(cfg.OutDir, mt); err != nil {
					return nil, err
				}
			}
		}
		if cfg.OutDir != "" && cfg.SnapshotEvery > 0 && every(done, cfg.SnapshotEvery, cfg.Steps) {
			if err := saveSnapshot(cfg.OutDir, done, c, st, task, tok); err != nil {
				return nil, err
			}
		}
		if cfg.OutDir != "" && every(done, cfg.CheckpointEvery, cfg.Steps) {
			state := State{Step: done, Config: cfg, Clamps: descs, Task: task.Name(), Pos: pos, Model: c, Tokens: tokensSeen, ElapsedS: elapsed(),
				LossSum: lossSum, LossSteps: lossN}
			if err := saveCheckpoint(cfg.OutDir, c, st, state, task, tok); err != nil {
				return nil, err
			}
		}
	}
	finish(res, st, c, elapsed())
	if cfg.OutDir != "" {
		sum := Summary{Task: task.Name(), Clamps: descs, Steps: res.Steps, Backend: res.Backend,
			ElapsedS: res.Elapsed.Seconds(), PhaseChange: res.PhaseChange}
		if n := len(res.Evals); n > 0 {
			sum.Final = &res.Evals[n-1]
		}
		if err := writeReport(cfg.OutDir, sum, res.Evals); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// every reports whether step done (1-based) is a multiple of n, or the last step.
func every(done, n, last int) bool {
	return done == last || (n > 0 && done%n == 0)
}

// finish copies the state's weights to the host and fills in the phase change.
func finish(res *Result, st *adamState, c model.Config, elapsed float64) *Result {
	w := &model.Weights{Config: c, Tensors: map[string]*tensors.Tensor{}}
	for i, sp := range model.ParamSpecs(c) {
		t, err := st.params[i].LocalClone()
		if err != nil {
			panic(err)
		}
		w.Tensors[sp.Name] = t
	}
	res.Weights = w
	res.Elapsed = time.Duration(elapsed * float64(time.Second))
	steps := make([]int, len(res.Evals))
	loss := make([]float64, len(res.Evals))
	for i, m := range res.Evals {
		steps[i], loss[i] = m.Step, m.RepeatedHalfLoss
	}
	res.PhaseChange = DetectPhaseChange(steps, loss)
	return res
}

// checkedBatch draws step s's batch (from PCG(Seed, s)) and checks its shape against the config
// and the model: Batch rows of equal length P <= n_ctx, token ids in the vocabulary, a mask of
// [Batch][P-1] or none. It returns the batch and P.
func checkedBatch(task Task, cfg Config, c model.Config, s int) (tasks.Batch, int, error) {
	b := task.Batch(rand.New(rand.NewPCG(cfg.Seed, uint64(s))), cfg.Batch)
	fail := func(format string, args ...any) (tasks.Batch, int, error) {
		return b, 0, fmt.Errorf("train: task %s, step %d: %s", task.Name(), s+1, fmt.Sprintf(format, args...))
	}
	if len(b.Tokens) != cfg.Batch {
		return fail("batch has %d rows, want %d", len(b.Tokens), cfg.Batch)
	}
	pos := len(b.Tokens[0])
	if pos < 2 || pos > c.NCtx {
		return fail("sequences of %d tokens; the model takes 2..%d (n_ctx)", pos, c.NCtx)
	}
	for i, r := range b.Tokens {
		if len(r) != pos {
			return fail("row %d has %d tokens, row 0 has %d", i, len(r), pos)
		}
		for p, id := range r {
			if id < 0 || id >= c.DVocab {
				return fail("token %d at row %d, position %d is outside the model's vocabulary [0, %d)", id, i, p, c.DVocab)
			}
		}
	}
	if b.LossMask != nil {
		if len(b.LossMask) != cfg.Batch {
			return fail("loss mask has %d rows, want %d", len(b.LossMask), cfg.Batch)
		}
		for i, r := range b.LossMask {
			if len(r) != pos-1 {
				return fail("loss mask row %d has %d entries, want %d", i, len(r), pos-1)
			}
		}
	}
	return b, pos, nil
}

// checkResume refuses a checkpoint trained differently, naming the first difference.
func checkResume(state *State, cfg Config, c model.Config, task string, pos int, clamps []string) error {
	where := CheckpointPath(cfg.OutDir)
	if d := trajectoryDiff(state.Config, cfg); d != "" {
		return fmt.Errorf("train: %s was trained with a different config: %s; use another --out or the same settings", where, d)
	}
	if state.Task != task {
		return fmt.Errorf("train: %s was trained on task %q, not %q", where, state.Task, task)
	}
	if state.Pos != pos {
		return fmt.Errorf("train: %s was trained on sequences of %d tokens; the task now gives %d", where, state.Pos, pos)
	}
	if !slices.Equal(state.Clamps, clamps) {
		return fmt.Errorf("train: %s was trained with clamps %q, not %q", where, state.Clamps, clamps)
	}
	sm, cm := state.Model, c
	sm.Task, cm.Task = "", "" // the task is compared on its own, above
	a, _ := json.Marshal(sm)
	b, _ := json.Marshal(cm)
	if string(a) != string(b) {
		return fmt.Errorf("train: %s holds a model with config %s, not %s", where, a, b)
	}
	if state.Step > cfg.Steps {
		return fmt.Errorf("train: %s is at step %d, beyond steps %d", where, state.Step, cfg.Steps)
	}
	return nil
}

// pairsOK reports whether task makes clean/corrupted pairs (user tasks without them are trained
// on their batches alone).
func pairsOK(task PairsTask) bool {
	_, err := task.Pairs(0, 1)
	return err == nil
}
