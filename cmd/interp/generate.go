package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/internal/progress"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/steering"
	"github.com/interp-dev/interp/tokenizer"
)

func init() {
	commands = append(commands,
		command{"generate", "generate text, with steering vectors, feature steering or head ablation side by side", cmdGenerate},
		command{"direction", "find a difference-of-means steering direction between two prompt sets", cmdDirection})
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// promptFlags are the prompt options generate and direction share.
type promptFlags struct {
	prompts listFlag
	file    *string
	bos     *string
}

func addPromptFlags(fs *flag.FlagSet) *promptFlags {
	p := &promptFlags{}
	fs.Var(&p.prompts, "prompt", "prompt text (repeat for a batch)")
	p.file = fs.String("prompts", "", "text file with one prompt per line (instead of --prompt)")
	p.bos = fs.String("bos", "auto", "token put before every prompt: auto ("+tokenizer.EndOfTextToken+" when the tokenizer has it, as TransformerLens's prepend_bos), none, or a token")
	return p
}

// readPromptLines reads the non-empty lines of a prompts file.
func readPromptLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := strings.TrimRight(sc.Text(), "\r"); strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no prompts (one per line)", path)
	}
	return out, nil
}

// encodePrompts tokenizes texts, each after the BOS token that bos names.
func encodePrompts(tok tokenizer.Tokenizer, texts []string, bos string) ([][]int, error) {
	var prefix []int
	switch bos {
	case "none", "":
	case "auto":
		if id, err := tokenizer.SingleToken(tok, tokenizer.EndOfTextToken); err == nil {
			prefix = []int{id}
		}
	default:
		id, err := tokenizer.SingleToken(tok, bos)
		if err != nil {
			return nil, usagef("--bos %q: not a single token of %s", bos, tok.Name())
		}
		prefix = []int{id}
	}
	out := make([][]int, len(texts))
	for i, t := range texts {
		ids, err := tok.Encode(t)
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %w", i, err)
		}
		out[i] = append(append([]int(nil), prefix...), ids...)
		if len(out[i]) == 0 {
			return nil, usagef("prompt %d is empty (and --bos none)", i)
		}
	}
	return out, nil
}

func (p *promptFlags) texts(flagName string) ([]string, error) {
	if (len(p.prompts) > 0) == (*p.file != "") {
		return nil, usagef("give --prompt (repeatable) or --%s FILE", flagName)
	}
	if *p.file != "" {
		return readPromptLines(*p.file)
	}
	return p.prompts, nil
}

// genCompletion is one completion in generate's JSON.
type genCompletion struct {
	Text      string   `json:"text"`
	Tokens    []int    `json:"tokens"`
	Stopped   bool     `json:"stopped"`
	LogitDiff *float64 `json:"logit_diff,omitempty"`
}

type genRow struct {
	Prompt  int            `json:"prompt"`
	Sample  int            `json:"sample"`
	Text    string         `json:"prompt_text"`
	Plain   genCompletion  `json:"plain"`
	Steered *genCompletion `json:"intervened,omitempty"`
}

type genReport struct {
	Model         string         `json:"model"`
	Backend       string         `json:"backend"`
	Options       map[string]any `json:"options"`
	Interventions []string       `json:"interventions,omitempty"`
	Scope         string         `json:"scope,omitempty"`
	Answer        string         `json:"answer,omitempty"`
	Wrong         string         `json:"wrong,omitempty"`
	Rows          []genRow       `json:"completions"`
	Seconds       float64        `json:"seconds"`
	TokensPerSec  float64        `json:"tokens_per_second"`
}

func cmdGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", stderr)
	modelSpec := fs.String("model", model.DefaultModel, "model directory or built-in name")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	process := processFlag(fs)
	pf := addPromptFlags(fs)
	maxNew := fs.Int("max-new", 16, "tokens to generate per completion")
	temperature := fs.Float64("temperature", 0, "sampling temperature (0: greedy)")
	topK := fs.Int("top-k", 0, "sample from the K most likely tokens (0: all)")
	topP := fs.Float64("top-p", 1, "sample from the smallest set of tokens whose probability reaches P")
	seed := fs.Uint64("seed", 0, "sampling seed (completion j of every prompt uses the stream (seed, j))")
	n := fs.Int("n", 1, "completions per prompt")
	stop := fs.String("stop", "", "comma-separated stop tokens (each a single token; the stop token ends and is kept)")
	var steers, features, ablate listFlag
	fs.Var(&steers, "steer", "steering vector HOOK+=FILE*COEF (a direction from interp direction; repeatable)")
	fs.Var(&features, "feature-steer", "feature steering SAE_DIR:LATENT=VALUE (or *=S, +=A), an SAE or transcoder folder (repeatable)")
	fs.Var(&ablate, "ablate", "zero-ablate head LAYER.HEAD (its hook_z) during generation (repeatable)")
	scope := fs.String("scope", "all", "positions the interventions apply to: all, prompt or generated")
	answer := fs.String("answer", "", "with --wrong: report logit(answer) - logit(wrong) for the first new token, plain and intervened")
	wrong := fs.String("wrong", "", "the wrong answer token for --answer")
	noCache := fs.Bool("no-cache", false, "recompute the whole sequence for every token (no key/value cache)")
	out := fs.String("out", "", "JSON report of the completions")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutputs(output{flag: "out", path: *out, exts: []string{".json"}}); err != nil {
		return err
	}
	if err := positive(fs, "max-new", "n"); err != nil {
		return err
	}
	sc, err := model.ParseScope(*scope)
	if err != nil {
		return usagef("--scope: %v", err)
	}
	if (*answer == "") != (*wrong == "") {
		return usagef("give --answer and --wrong together")
	}
	texts, err := pf.texts("prompts")
	if err != nil {
		return err
	}
	var steerSpecs []steering.Steer
	for _, s := range steers {
		st, err := steering.ParseSteer(s)
		if err != nil {
			return usagef("--%v", err)
		}
		steerSpecs = append(steerSpecs, st)
	}
	var featSpecs []steering.FeatureSteer
	for _, s := range features {
		f, err := steering.ParseFeatureSteer(s)
		if err != nil {
			return usagef("--%v", err)
		}
		featSpecs = append(featSpecs, f)
	}
	m, dir, err := loadModelProcessed(*modelSpec, *backend, *process, stderr)
	if err != nil {
		return err
	}
	tok, err := tokenizer.ForModel(dir, m.Config.Tokenizer)
	if err != nil {
		return err
	}
	prompts, err := encodePrompts(tok, texts, *pf.bos)
	if err != nil {
		return err
	}
	longest := 0
	for _, p := range prompts {
		longest = max(longest, len(p))
	}
	if need := longest + *maxNew - 1; need > m.Config.NCtx {
		return usagef("--max-new %d: the longest prompt (%d tokens) and %d new tokens need %d positions; %s has n_ctx %d (use --max-new %d or less)",
			*maxNew, longest, *maxNew, need, *modelSpec, m.Config.NCtx, m.Config.NCtx-longest+1)
	}
	opt := model.GenerateOptions{MaxNew: *maxNew, Temperature: *temperature, TopK: *topK, TopP: *topP, Seed: *seed, Samples: *n,
		Scope: sc, NoCache: *noCache, KeepLogits: *answer != ""}
	if *stop != "" {
		for _, s := range strings.Split(*stop, ",") {
			id, err := tokenizer.SingleToken(tok, s)
			if err != nil {
				return usagef("--stop %q: not a single token of %s", s, tok.Name())
			}
			opt.Stop = append(opt.Stop, id)
		}
	}
	var answerID, wrongID int
	if *answer != "" {
		if answerID, err = tokenizer.SingleToken(tok, *answer); err != nil {
			return usagef("--answer %q: not a single token of %s", *answer, tok.Name())
		}
		if wrongID, err = tokenizer.SingleToken(tok, *wrong); err != nil {
			return usagef("--wrong %q: not a single token of %s", *wrong, tok.Name())
		}
	}

	// The interventions, all checked before any generation.
	set := hooks.New()
	var described []string
	for _, s := range steerSpecs {
		d, err := steering.LoadDirection(s.File)
		if err != nil {
			return fmt.Errorf("--steer %s: %w", s, err)
		}
		if d.Hook != "" && d.Hook != s.Hook {
			fmt.Fprintf(stderr, "interp: note: %s was found at %s, steering at %s\n", s.File, d.Hook, s.Hook)
		}
		s.Apply(set, d)
		described = append(described, fmt.Sprintf("steer %s (|direction| %.4g)", s, d.Norm()))
	}
	for _, f := range featSpecs {
		s, err := sae.LoadAny(f.Dir, "", m.Backend)
		if err != nil {
			return fmt.Errorf("--feature-steer %s: %w", f, err)
		}
		if err := f.Apply(set, m.Config, s); err != nil {
			return usagef("--feature-steer %s: %v", f, err)
		}
		described = append(described, fmt.Sprintf("feature-steer %s (%s, %d latents at %s)", f, s.Config.Arch, s.Config.DSAE, s.Config.Site))
	}
	for _, a := range ablate {
		l, h, err := steering.ParseHead(a)
		if err != nil {
			return usagef("--ablate: %v", err)
		}
		if err := steering.AblateHead(set, m.Config, l, h); err != nil {
			return usagef("--%v", err)
		}
		described = append(described, "ablate head "+a)
	}

	total := *maxNew
	if len(described) > 0 {
		total *= 2
	}
	bar := progress.New(total, "generate")
	opt.Progress = func(done, _ int) { bar.Add(1, "") }
	start := time.Now()
	plain, err := m.Generate(prompts, opt)
	if err != nil {
		bar.Finish()
		return err
	}
	var steered []model.Completion
	if len(described) > 0 {
		sopt := opt
		sopt.Hooks = set
		if steered, err = m.Generate(prompts, sopt); err != nil {
			bar.Finish()
			return err
		}
	}
	bar.Finish()
	secs := time.Since(start).Seconds()

	rep := genReport{Model: *modelSpec, Backend: m.BackendName, Interventions: described, Answer: *answer, Wrong: *wrong,
		Options: map[string]any{"max_new": *maxNew, "temperature": *temperature, "top_k": *topK, "top_p": *topP, "seed": *seed,
			"n": *n, "stop": opt.Stop, "bos": *pf.bos, "no_cache": *noCache}}
	if len(described) > 0 {
		rep.Scope = string(sc)
	}
	generated := 0
	comp := func(c model.Completion) genCompletion {
		text, err := tok.Decode(c.Tokens)
		if err != nil {
			text = fmt.Sprint(c.Tokens)
		}
		g := genCompletion{Text: text, Tokens: c.Tokens, Stopped: c.Stopped}
		generated += len(c.Tokens)
		if *answer != "" {
			d := float64(c.Logits[0][answerID] - c.Logits[0][wrongID])
			g.LogitDiff = &d
		}
		return g
	}
	for i, c := range plain {
		row := genRow{Prompt: c.Prompt, Sample: c.Sample, Text: texts[c.Prompt], Plain: comp(c)}
		if steered != nil {
			s := comp(steered[i])
			row.Steered = &s
		}
		rep.Rows = append(rep.Rows, row)
	}
	rep.Seconds = secs
	rep.TokensPerSec = float64(generated) / math.Max(secs, 1e-9)

	for _, d := range described {
		fmt.Fprintf(stdout, "intervention: %s, scope %s\n", d, sc)
	}
	for _, r := range rep.Rows {
		label := fmt.Sprintf("prompt %d", r.Prompt)
		if *n > 1 {
			label += fmt.Sprintf(" sample %d", r.Sample)
		}
		fmt.Fprintf(stdout, "%s: %q\n", label, r.Text)
		width := "  plain: "
		if r.Steered != nil {
			width = "  plain:      "
		}
		fmt.Fprintf(stdout, "%s%q%s\n", width, r.Plain.Text, diffNote(r.Plain))
		if r.Steered != nil {
			fmt.Fprintf(stdout, "  intervened: %q%s\n", r.Steered.Text, diffNote(*r.Steered))
		}
	}
	if *answer != "" {
		fmt.Fprintf(stdout, "logit diff = logit(%q) - logit(%q) at the first new token\n", *answer, *wrong)
	}
	fmt.Fprintf(stdout, "%d tokens in %.2fs (%.1f tokens/s, %s, backend %s)\n", generated, secs, rep.TokensPerSec,
		map[bool]string{true: "no cache", false: "key/value cache"}[*noCache], m.BackendName)
	if *out != "" {
		if err := writeJSON(stdout, *out, rep); err != nil {
			return err
		}
	}
	return nil
}

func diffNote(c genCompletion) string {
	if c.LogitDiff == nil {
		return ""
	}
	return fmt.Sprintf("   logit diff %+.3f", *c.LogitDiff)
}

func cmdDirection(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("direction", stderr)
	modelSpec := fs.String("model", model.DefaultModel, "model directory or built-in name")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	process := processFlag(fs)
	hook := fs.String("hook", "", "hook to read, e.g. blocks.1.hook_resid_post (see interp info)")
	posFile := fs.String("positive", "", "text file of positive prompts, one per line")
	negFile := fs.String("negative", "", "text file of negative prompts, one per line")
	at := fs.String("at", steering.AtLast, "read each prompt at its last token (last) or average its tokens (mean)")
	bos := fs.String("bos", "auto", "token put before every prompt: auto, none, or a token (as interp generate)")
	out := fs.String("out", "", "output .safetensors file (the tensor \"direction\" and its metadata)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || *hook == "" || *posFile == "" || *negFile == "" {
		return usagef("--hook, --positive, --negative and --out are required")
	}
	if *at != steering.AtLast && *at != steering.AtMean {
		return usagef("--at %q: want last or mean", *at)
	}
	if err := checkOutputs(output{flag: "out", path: *out, exts: []string{".safetensors"}}); err != nil {
		return err
	}
	posTexts, err := readPromptLines(*posFile)
	if err != nil {
		return usagef("--positive: %v", err)
	}
	negTexts, err := readPromptLines(*negFile)
	if err != nil {
		return usagef("--negative: %v", err)
	}
	m, dir, err := loadModelProcessed(*modelSpec, *backend, *process, stderr)
	if err != nil {
		return err
	}
	if !model.HasHook(m.Config, *hook) {
		return usagef("--hook %q: no such hook point (see interp info)", *hook)
	}
	tok, err := tokenizer.ForModel(dir, m.Config.Tokenizer)
	if err != nil {
		return err
	}
	pos, err := encodePrompts(tok, posTexts, *bos)
	if err != nil {
		return err
	}
	neg, err := encodePrompts(tok, negTexts, *bos)
	if err != nil {
		return err
	}
	d, err := steering.DiffMeans(m, *hook, pos, neg, *at)
	if err != nil {
		return err
	}
	d.Model = *modelSpec
	if err := d.Save(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "direction at %s (%s token): mean of %d positive - mean of %d negative prompts, shape %v, norm %.4g (backend %s)\nwrote %s\n",
		*hook, *at, len(pos), len(neg), d.Vector.Shape().Dimensions, d.Norm(), m.BackendName, *out)
	return nil
}
