package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/interp-dev/interp/heads"
	"github.com/interp-dev/interp/internal/plots"
)

// Metrics is one line of metrics.jsonl: the training step's numbers and the progress measures on
// the fixed evaluation batch (see evalSet and PhaseChange).
type Metrics struct {
	Step     int     `json:"step"`
	Loss     float64 `json:"loss"`                // this step's training loss: one batch's
	MeanLoss float64 `json:"mean_loss,omitempty"` // the mean over the steps since the previous evaluation
	LR       float64 `json:"lr"`
	GradNorm float64 `json:"grad_norm"` // before clipping
	Tokens   int64   `json:"tokens"`    // tokens trained on so far
	ElapsedS float64 `json:"elapsed_s"`

	EvalLoss float64 `json:"eval_loss"` // mean over every predicted token of the evaluation batch
	// FirstHalfLoss and RepeatedHalfLoss are the losses on the first and the repeated half of the
	// evaluation sequences; InContextLoss is their difference (repeated - first: negative once the
	// model uses the context).
	FirstHalfLoss    float64 `json:"first_half_loss"`
	RepeatedHalfLoss float64 `json:"repeated_half_loss"`
	InContextLoss    float64 `json:"in_context_loss"`
	// Head scores [layer][head] (TransformerLens head detector, package heads) and the largest
	// induction score.
	PrevToken      [][]float64 `json:"prev_token_scores"`
	DuplicateToken [][]float64 `json:"duplicate_token_scores"`
	Induction      [][]float64 `json:"induction_scores"`
	MaxInduction   float64     `json:"max_induction_score"`
	// Pairs scores the model being trained on held-out prompts of a task with a right and a wrong
	// answer (IOI-like tasks; ScorePairs); nil for the induction tasks. In a run with clamps the
	// clamps are in place, as in the training loss and every other measure here.
	Pairs *PairScore `json:"pairs,omitempty"`
	// PairsByTask scores each task of a mixture (mix:A,B) as Pairs scores a single task.
	PairsByTask map[string]*PairScore `json:"pairs_by_task,omitempty"`
	// PairsUnclamped and PairsByTaskUnclamped score the same prompts with the weights alone, the
	// clamps removed (as the saved checkpoint runs elsewhere); only in runs with clamps. A clamped
	// value gets no gradient, so the weights that feed only it never learn.
	PairsUnclamped       *PairScore            `json:"pairs_unclamped,omitempty"`
	PairsByTaskUnclamped map[string]*PairScore `json:"pairs_by_task_unclamped,omitempty"`
}

func newMetrics(step int, loss, lr, norm float64, tokens int64, elapsed float64, ev *evalResult) Metrics {
	return Metrics{
		Step: step, Loss: loss, LR: lr, GradNorm: norm, Tokens: tokens, ElapsedS: elapsed,
		EvalLoss: ev.Loss, FirstHalfLoss: ev.FirstHalf, RepeatedHalfLoss: ev.Repeated,
		InContextLoss: ev.Repeated - ev.FirstHalf,
		PrevToken:     ev.Scores.PrevToken, DuplicateToken: ev.Scores.DuplicateToken, Induction: ev.Scores.Induction,
		MaxInduction: ev.Scores.Max(heads.Induction),
	}
}

const metricsFile = "metrics.jsonl"

// appendMetrics appends one JSON line to OutDir/metrics.jsonl.
func appendMetrics(outDir string, m Metrics) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(outDir, metricsFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("train: metrics: %w", err)
	}
	_, werr := f.Write(append(data, '\n'))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}

// ReadMetrics reads a metrics.jsonl file.
func ReadMetrics(path string) ([]Metrics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Metrics
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m Metrics
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// truncateMetrics keeps the records up to step (those an interrupted run logged after its last
// checkpoint are replayed by the resumed run) and returns them.
func truncateMetrics(outDir string, step int) ([]Metrics, error) {
	path := filepath.Join(outDir, metricsFile)
	all, err := ReadMetrics(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("train: resume: %w", err)
	}
	var kept []Metrics
	var buf bytes.Buffer
	for _, m := range all {
		if m.Step <= step {
			kept = append(kept, m)
			data, _ := json.Marshal(m)
			buf.Write(append(data, '\n'))
		}
	}
	return kept, writeFileAtomic(path, buf.Bytes())
}

// Summary is OutDir/summary.json.
type Summary struct {
	Task        string      `json:"task"`
	Clamps      []string    `json:"clamps"`
	Steps       int         `json:"steps"`
	Backend     string      `json:"backend"`
	ElapsedS    float64     `json:"elapsed_s"`
	PhaseChange PhaseChange `json:"phase_change"`
	Final       *Metrics    `json:"final,omitempty"`
}

// writeReport writes summary.json and progress.png (loss, in-context losses and the largest
// induction score over training, the phase change marked).
func writeReport(outDir string, s Summary, evals []Metrics) error {
	if err := writeJSON(filepath.Join(outDir, "summary.json"), s); err != nil {
		return fmt.Errorf("train: summary: %w", err)
	}
	if len(evals) < 2 {
		return nil
	}
	series := []plots.Series{{Name: "training loss"}, {Name: "first-half loss"}, {Name: "repeated-half loss"}, {Name: "max induction score"}}
	if evals[len(evals)-1].MeanLoss > 0 {
		series[0].Name = "training loss (mean since the last evaluation)"
	}
	for _, m := range evals {
		x := float64(m.Step)
		train := m.Loss
		if m.MeanLoss > 0 { // lines written before mean_loss existed have only Loss
			train = m.MeanLoss
		}
		for i, y := range []float64{train, m.FirstHalfLoss, m.RepeatedHalfLoss, m.MaxInduction} {
			series[i].X = append(series[i].X, x)
			series[i].Y = append(series[i].Y, y)
		}
	}
	var marks []plots.Mark
	if s.PhaseChange.Found {
		marks = append(marks, plots.Mark{X: float64(s.PhaseChange.Step), Label: fmt.Sprintf("phase change (step %d)", s.PhaseChange.Step)})
	}
	title := "training: " + s.Task
	if len(s.Clamps) > 0 {
		title += fmt.Sprintf(" (%d clamps)", len(s.Clamps))
	}
	panels := []plots.Panel{{Title: title, XLabel: "step", YLabel: "loss (nats) / score", Series: series, Marks: marks}}
	// Tasks scored on held-out pairs (a mixture: each of its tasks) get a panel of accuracy.
	acc := map[string]*plots.Series{}
	var names []string
	for _, m := range evals {
		scores := m.PairsByTask
		if m.Pairs != nil {
			scores = map[string]*PairScore{s.Task: m.Pairs}
		}
		for name, sc := range scores {
			if acc[name] == nil {
				acc[name] = &plots.Series{Name: name}
				names = append(names, name)
			}
			acc[name].X, acc[name].Y = append(acc[name].X, float64(m.Step)), append(acc[name].Y, sc.Accuracy)
		}
	}
	if len(names) > 0 {
		sort.Strings(names)
		var accSeries []plots.Series
		for _, n := range names {
			accSeries = append(accSeries, *acc[n])
		}
		panels = append(panels, plots.Panel{Title: title + ": held-out pairs", XLabel: "step",
			YLabel: "accuracy (answer > wrong)", Series: accSeries, Marks: marks})
	}
	if err := plots.LinePanels(filepath.Join(outDir, "progress.png"), panels); err != nil {
		return fmt.Errorf("train: plot: %w", err)
	}
	return nil
}
