// Package patching is activation patching, path patching and attribution patching between a
// clean and a corrupted run, built on the hooks of package hooks (TransformerLens's patching.py
// and the IOI paper's path patching, compiled and batched).
//
// # Activation patching
//
// An Experiment holds a model, prompt pairs (clean and corrupted prompts of one length, each with
// a scored position, an answer and a wrong token) and a Metric. Denoising (the default) runs the
// corrupted prompts and patches in one activation's clean value; noising runs the clean prompts
// and patches in the corrupted value. For an activation a (hook_z of layer l, say) and a patch
// variant selecting elements A of it (one head at one position), the patched run uses
//
//	a'_i = source_i for i in A,  a'_i = target_i otherwise
//
// and the variant's score is the metric of that run, averaged over prompts. With a normalised
// metric the score is
//
//	(m(patched) - m(corrupted)) / (m(clean) - m(corrupted))
//
// so 0 is the corrupted behaviour and 1 the clean one, in either direction: a denoising patch
// scoring near 1 restores the behaviour by itself, a noising patch scoring near 0 destroys it.
// Ablations replace the source: zeros, the activation's mean over a reference set of prompts,
// or a reference prompt drawn at random per row (resample); the clean run is then the target.
//
// Patch is the one generic patch routine; a Setter says which activation axes a sweep indexes
// (one setter per activation layout: [pos, d] by position; [pos, head, d] by head or by (head,
// pos); the pattern [head, dest, src] by head, (head, dest) or (head, dest, src)). The named
// sweeps (ResidPreByPos, HeadOutByPos, HeadPatternDestSrc, BlockEvery, HeadByPosEvery, ...) are
// one call each.
//
// # Speed
//
// A sweep compiles once per layer and runs batched: the variants of a layer are stacked along
// the batch axis, row r holding variant r/N on prompt r%N, as many rows per forward pass as
// Options.MaxRows (or the memory budget) allows. The 0/1 masks and the source activation are fed
// tensors, and the patched value x(1-m) + s m is exact. Each forward pass starts from the target
// run's cached hook_resid_pre of the patched layer (model.Blocks), so the layers before the patch
// are never recomputed, and only each prompt's scored position is unembedded (model.LogitsAt).
// One clean and one corrupted run with a cache of the hooks a sweep needs supply every target
// prefix and every source value.
//
// # Metrics
//
// A Metric maps the logits at each prompt's scored position to a number per prompt, inside the
// graph (differentiable, so attribution patching can use it) or, for a user's Go function, on
// the host. Built in: logit_diff (logit[answer] - logit[wrong]; with token sets the mean logit
// of each set), norm_logit_diff (normalised as above), prob (p(answer), or p of the answer set),
// prob_diff (p(answer set) - p(wrong set), the greater-than metric), kl (KL(p_clean || p) at the
// scored position) and loss (-log p(answer)).
//
// # Attribution patching
//
// Attribute estimates every variant of a sweep from one forward and one backward pass of the
// target run (Nanda 2023): with g = d metric / d a on the target run,
//
//	m(patched) ~ m(target) + sum_{i in A} g_i (source_i - target_i)
//
// summed over prompts too (g is the gradient of the mean over prompts). Results share Patch's
// axes and scale; Correlation(attribution, exact) measures the agreement.
//
// # Path patching
//
// PathPatch follows Wang et al. (2022, appendix B). With the target run as orig and the source
// as new, for each sender head s:
//
//  1. run orig with hook_z of s from new and the hook_z of every other head frozen at its orig
//     value (MLPs and LayerNorms recomputed, or MLP outputs frozen too with FreezeMLPs), and
//     record each receiver head's q, k and/or v input (or, for the logits, the final residual
//     stream);
//  2. run orig with only those receiver inputs replaced by the recorded values, everything else
//     recomputed, and score the metric.
//
// So the score measures the effect of s on the metric through the receivers only. Both steps of
// all heads of a sender layer run in one batched graph from the cached orig hook_resid_pre.
//
// # Scaling heads
//
// ScaleHeads is an intervention, not a patch: it multiplies some heads' hook_z by a factor (0
// ablates them, 2 doubles what they write) and scores the clean prompts: mean logit difference,
// accuracy (answer above wrong) and top-1 accuracy. Merullo et al. (2024) boost a circuit's
// heads on a task where the model is weak this way (`interp patch --scale-heads`).
package patching
