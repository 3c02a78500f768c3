// Package train trains a model on a task with activations clamped through training: the
// optogenetics-style method of Singh et al. (2024) for asking which subcircuits must form for
// induction heads to appear.
//
// # The training loop
//
// Run trains with AdamW. One step is one compiled graph (graph.NewExec on the model's backend),
// compiled once and fed new values every step:
//
//	inputs:  tokens [N, P], loss mask [N, P-1], (1 - lr wd), lr/(1-b1^t), sqrt(1-b2^t),
//	         params, m, v, clamp inputs
//	outputs: loss, gradient norm, new params, new m, new v
//
// The loss is the masked next-token cross-entropy
//
//	L = -sum_{b,p} mask[b,p] log softmax(logits[b,p])[tokens[b,p+1]] / max(sum mask, 1).
//
// Gradients g are clipped to a global norm (g *= min(1, clip/(|g| + 1e-6))), then AdamW, as in
// torch.optim.AdamW:
//
//	w <- w (1 - lr wd)                 (weight matrices and embeddings only, not biases or LN)
//	m <- b1 m + (1-b1) g,   v <- b2 v + (1-b2) g^2
//	w <- w - lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps)
//
// with lr warmed up linearly over WarmupSteps and then decayed along a cosine to MinLR*LR
// (Config.LRAt). A numeric test holds a few steps to a PyTorch reference (testdata/adamw_ref.py).
//
// Step s trains on task.Batch(PCG(Seed, s)), so data depends only on the seed and the step.
// Checkpoints (weights in the Hugging Face layout, the moments, state.json) are written
// atomically; running again with the same OutDir resumes from the last one and ends with the
// same weights, bit for bit, as an uninterrupted run.
//
// # Clamps
//
// A Clamp names a hook point, optionally heads and positions, and a Source. At every step (and
// in every evaluation) the clamped entries of the activation are replaced by the source's value,
// made stop-gradient, so no gradient flows into what a clamp replaced: clamping
// blocks.0.attn.hook_pattern gives layer 0's W_Q, W_K, b_Q, b_K exactly zero gradient. Sources:
//
//	Zero()          zero ablation
//	MeanBatch()     the mean over the training batch (current model)       CLI: mean
//	MeanRef(rows)   the mean over fixed reference rows, current weights    CLI: mean-ref:TOKENS.json
//	Constant(t)     a fixed tensor for one sequence                        CLI: const:FILE.safetensors
//	Graft(ref)      the reference model's activation on the same batch      CLI: graft:MODEL
//	PrevToken()     attention pattern: query i attends to i-1 (0 to 0)      CLI: prev-token
//	Induction()     pattern: to the token after the previous occurrence of the current token
//	                (position 0 when there is none)                         CLI: induction
//	Uniform()       causal uniform pattern                                  CLI: uniform
//	Func(key, fn)   any function of the graph node
//
// MeanRef appends its rows to every batch inside the same graph and excludes them from the loss;
// Graft runs the reference model's forward pass in the same graph on the same tokens, with its
// weights fed as inputs.
//
// # Recipes for the induction-head study (2-layer attention-only model)
//
//	previous-token subcircuit off:   blocks.0.attn.hook_pattern=uniform       (or =zero on hook_z)
//	previous-token forced from 0:    blocks.0.attn.hook_pattern[head=H]=prev-token
//	induction QK (match) forced:     blocks.1.attn.hook_pattern[head=H]=induction
//	induction QK from a reference:   blocks.1.attn.hook_pattern[head=H]=graft:TRAINED
//	induction OV (copy) from a ref:  blocks.1.attn.hook_v[head=H]=graft:TRAINED
//	induction OV (copy) removed:     blocks.1.attn.hook_z[head=H]=zero
//
// Clamping a head's hook_pattern fixes where it attends (its QK circuit) and leaves what it moves
// (OV) to be learnt; clamping its hook_v (or hook_z / hook_result) fixes what it moves and leaves
// where it attends to be learnt. With a trained model as the reference, graft:TRAINED on hook_v
// gives head H the trained model's copy path, while its own pattern must still form.
//
// # Progress measures
//
// Every EvalEvery steps Run evaluates the clamped model on a fixed, seeded batch of repeated
// random tokens [BOS, t1..tL, t1..tL] in a second compiled graph that caches every hook_pattern,
// and logs to OutDir/metrics.jsonl: the first-half and repeated-half losses (predicting t2..tL in
// each half), their difference (the in-context loss), and every head's previous-token,
// duplicate-token and induction scores (package heads, TransformerLens's head detector). The
// phase change is the step where the smoothed repeated-half loss falls fastest (PhaseChange); it
// goes into Result, OutDir/summary.json and the plot OutDir/progress.png.
//
// A task with a right and a wrong answer (IOI, Colored Objects, icl-classify, each task of a
// mixture) is also scored on 100 held-out prompts: accuracy and mean logit difference (pairs,
// pairs_by_task). These too are of the clamped model, with the prompts padded at the end to the
// training rows' length so that the clamps fit. A run with clamps also logs the same scores of
// its weights alone (pairs_unclamped, pairs_by_task_unclamped), which is what the saved
// checkpoint gives elsewhere: the weights that feed only a clamped value never learn, so the two
// can differ widely.
package train
