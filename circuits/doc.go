// Package circuits finds the circuits of a transformer: which attention heads and MLPs, and which
// edges between them, carry a task. It holds the circuit graph, five discovery methods, scoring
// against a ground truth, models with planted circuits to score them on, and the comparison of
// circuits across tasks.
//
// # The graph
//
// Nodes are the embeddings ("embed": hook_embed + hook_pos_embed), every attention head ("L.H",
// its slice of blocks.L.attn.hook_result), every MLP ("mlpL", hook_mlp_out) and the logits. An
// edge s -> r joins a node writing to the residual stream to a later node reading it; a head reads
// through three inputs, so its incoming edges are "s->L.H.q", ".k" and ".v". A Circuit is a set
// of nodes and edges; it is written to JSON as {"nodes": ["0.1", ...], "edges": ["0.1->1.2.k",
// ...]}.
//
// # The metric
//
// Every method works on a task's clean/corrupted pairs (package tasks, or this package's
// "induction-fresh") and the logit difference at the scored position of each pair,
// m = logit[Answer] - logit[Wrong], averaged over pairs. Ablating a node or an edge replaces its
// output by its value on the paired corrupted prompt (resample, the default), by the mean over the
// corrupted prompts, or by zero.
//
// # Methods
//
// Node patching (patching.go): the effect of head or MLP n is
//
//	effect_n = (m_clean - m_clean with n's output from the corrupted run) / (m_clean - m_corrupted)
//
// for every node in a few batched calls, and |effect_n| its score.
//
// EAP, edge attribution patching (eap.go): one clean and one corrupted forward pass and one
// backward pass give, for every edge,
//
//	score(s -> r) = sum over positions and examples of (out_s^corrupted - out_s^clean) . dm/dx_r
//
// with x_r the receiver's input before its LayerNorm; out_s^corrupted may instead be zero or the
// sender's mean (Options.Intervention). EAP-IG averages dm/dx_r over `steps` points (30, at
// alpha = k/steps, k = 0..steps-1, as the reference) on the straight line from the corrupted to
// the clean token embeddings; EAP-IG-activations interpolates each layer's output in turn instead.
// A node's score is the magnitude of the sum of its outgoing edges' scores (node attribution
// patching). The circuit is the edges scoring at least Keep times the top score, connected, or the
// reference's top-n or greedy selection of TopN edges (Options.Select, select.go).
//
// ACDC (acdc.go): greedy pruning of edges in reverse topological order; an edge is removed when
// ablating it worsens the metric (KL divergence to the clean next-token distribution, or the logit
// difference relative to the clean-corrupted gap) by less than tau. Edge ablations are
// implemented with hooks: each receiver's q, k, v (or MLP input, or the final residual stream) is
// recomputed from the residual stream plus, for each ablated incoming edge, the sender's ablated
// output minus its current output (edges.go).
//
// Head overlap (headoverlap.go; O'Neill & Bui 2024): each head's output averaged over positions,
// on positive prompts (clean, solved by the model) and negative ones (corrupted, answer
// unpredictable), is coded by the argmax latent of one small SAE trained on the first 10 pairs'
// rows (200 latents, L1 0.02 in the reference's units, lr 1e-3, 500 epochs, tied pre-encoder bias,
// unit-norm decoder); every pair of the experiment is coded and counted. A head pair's edge score
// is the number of code pairs seen together on positives only; a head's score, by default the
// paper's edge method, is softmax over heads of
//
//	|appearances of the head among the first heads^2/2 entries of the pairs sorted by edge score|
//
// or, with NodeMethod "codes", of |codes seen on positives and never on negatives| (divided by
// |codes the head takes| with Normalize). It is evaluated over heads only (EvaluateHeads).
//
// # Scoring against a ground truth
//
// ROC AUC over all thresholds is the probability that a circuit member outscores a non-member,
// ties counting half. Precision, recall and F1 = 2PR/(P+R) are reported at the threshold with the
// highest F1. Faithfulness is the mean logit difference of the circuit alone (everything outside
// it ablated) over the full model's, with the spread across examples of m_i(circuit) / mean
// m(full) (standard deviation and quartiles); node level and, for circuits with edges, edge
// level. Beside it, MIB's normalisation (m(C) - m(∅)) / (m(N) - m(∅)) subtracts the all-ablated
// baseline m(∅).
//
// # Planted circuits
//
// The built-in models "planted-induction" (previous-token head 0.2 and induction head 1.1 among
// six distractors; task "induction-fresh") and "planted-ioi" (duplicate-token head 0.1,
// S-inhibition head 1.2, name movers 2.0 and 2.3 among eight distractors; task "ioi") have
// hand-set weights whose residual stream is a sum of named subspaces (planted_induction.go,
// planted_ioi.go), so their circuits are known by construction. GPT2SmallIOI is Wang et al.'s
// 26-head circuit for users with the checkpoint.
//
// # Cross-task reuse
//
// Compare measures the overlap of two circuits (Merullo et al. 2023): shared / union (Jaccard) and
// the share of each inside the other, for nodes and edges.
package circuits
