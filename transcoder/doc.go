// Package transcoder trains and evaluates transcoders, runs models with MLPs replaced by them,
// and does the weights-based circuit analysis of Dunefsky, Chlenski and Nanda 2024
// ("Transcoders find interpretable LLM feature circuits").
//
// A transcoder is a wide, sparsely activating MLP trained to reproduce an MLP sublayer's output
// from its input. It is an *sae.SAE whose Site is the MLP's input (default
// blocks.L.ln2.hook_normalized; blocks.L.hook_resid_mid without LayerNorm) and whose Target is
// the MLP's output (blocks.L.hook_mlp_out); the SAE architectures (ReLU/L1, TopK, BatchTopK,
// JumpReLU) are reused, training is package sae's trainer and activation store, and files are
// SAELens's (cfg.json with d_out and hook_name_out, architecture "transcoder" or
// "skip_transcoder", W_skip [d_out, d_in] for skip transcoders).
//
// # Dimensions
//
//	P positions, D d_model, H heads, K d_head, F latents, V vocabulary.
//
// # The transcoder
//
//	f    = act(x W_enc + b_enc)                 x = ln2(resid_mid)  [D]
//	yhat = f W_dec + b_dec (+ x W_skip^T)       y = mlp_out         [D]
//	L    = ||yhat - y||^2 + sparsity term (see package sae)
//
// b_dec is not subtracted from the input (input and output spaces differ).
//
// # Cross-layer transcoders (CLT, TrainCLT, SaveCLT, LoadCLT, ReplaceCLT)
//
// A CLT (Ameisen et al. 2025) has one encoder per layer, reading that layer's MLP input, and
// gives each latent of layer l a decoder vector for the MLP output of every layer m >= l:
//
//	f_l   = act_l(x_l W_enc_l + b_enc_l)
//	yhat_m = b_dec_m + sum_{l <= m} f_l W_dec_l[:, m-l]
//	L     = sum_m ||yhat_m - y_m||^2 + coef * S
//
// with S the L1 of f_l ||W_dec_l[f]|| (relu), Anthropic's sum of tanh(c f_l ||W_dec_l[f]||)
// (jumprelu, the threshold trained through Rajamanoharan et al.'s straight-through estimator),
// or nothing (topk), ||W_dec_l[f]|| being the norm of all of a latent's decoders. One model run
// caches every layer's input and output; the step is one graph with autodiff and Adam
// (clt_train.go; TestCLTLossMatchesPyTorch holds the loss and every gradient to a PyTorch
// reference). Files are circuit-tracer's: W_enc_{l}.safetensors (W_enc_{l} [F, D], b_enc_{l},
// b_dec_{l}, threshold_{l}), W_dec_{l}.safetensors (W_dec_{l} [F, L-l, D]) and config.yaml
// (model_kind cross_layer_transcoder, feature_input_hook, feature_output_hook).
//
// # Replacement (Replace, Evaluate)
//
// Replace hooks the model so that hook_mlp_out becomes yhat computed from the same run's
// ln2.hook_normalized (with the error term y - yhat added back, held constant, when asked);
// see replace.go for how a hook at one point reads another's node. Evaluate reports per layer
// FVU = sum ||yhat - y||^2 / sum ||y - mean y||^2, MSE, L0 and the fraction of dead latents,
// and the next-token cross-entropy and KL(clean || replaced) with each MLP replaced alone and
// with all replaced at once, with and without the error term, against zero-ablating the same
// MLPs:
//
//	CE loss recovered = (CE_zero - CE_replaced) / (CE_zero - CE_clean)
//
// With a MaskedSource (a task's loss mask), the CE loss and KL are scored where the task's
// predictions count.
//
// # Circuit analysis (Analysis)
//
// On one prompt, every quantity read from the residual stream is a dot product with a vector e
// once the LayerNorm scales are held at their values on that prompt. LayerNorm with weight w,
// bias b and scale s_t maps a direction v read after it to the direction before it
//
//	J_t^T v = center(w * v) / s_t          (center subtracts the mean over D)
//
// A target gives the first e: a latent j of layer l's transcoder at position t has
// pre-activation e . resid_mid^l[t] + c with e = J^T W_enc[:, j] and the constant
// c = b_ln2 . W_enc[:, j] + b_enc[j]; a logit difference logit[a] - logit[b] has
// e = J_final^T (W_U[:, a] - W_U[:, b]) and c = b_final . (W_U[:, a] - W_U[:, b]).
// The stream is the sum of its components, so e . resid splits exactly into
//
//	token and positional embeddings       embed[t] . e
//	head h of layer k, source s           pattern[k, h, t, s] * (v[s, h] W_O[h]) . e
//	attention bias                        b_O . e
//	transcoder latent i of layer k        z_i[t] * (W_dec[i] . e)
//	transcoder bias, skip, error          b_dec . e, (x[t] W_skip^T) . e, (y - yhat)[t] . e
//	a whole MLP (no transcoder)           mlp_out[t] . e
//
// Where a norm follows attention (Gemma 2/3, OLMo 2: ln1_post with scale s'_t), a head's and
// b_O's e is first pulled back through it, J'_t^T e = center(w_post * e) / s'_t (the scale frozen
// at the prompt's value, as circuit-tracer does); the MLP's output is taken after its own norm.
// Under Gemma 2's final soft-cap a logit target is the logit before the cap.
//
// Each contribution is an input-dependent factor (a latent's activation z, a head's attention
// weight) times a factor that, for features, depends only on the weights: the input-invariant
// connection W_dec[i] . center(w_ln2 * W_enc[:, j]) (Connections), up to the LayerNorm scale.
//
// Paths. A feature or head contribution is itself linear in that component's input, so it
// expands into a new target vector: for latent i of layer k,
// e' = (W_dec[i] . e) J_{ln2,t}^T W_enc[:, i] on resid_mid^k at t; for head h of layer k from
// source s, e' = pattern[t, s] J_{ln1,s}^T W_V[h] W_O[h] e on resid_pre^k at s (the attention
// pattern held fixed: only the OV circuit is followed). A path's attribution is the
// contribution of its last node to the vector propagated along it: the product of the
// activation at its start and the connection factors along it. Paths does a greedy beam
// search: from each path's last node, follow its Branch largest contributors, keep the Beam
// largest paths per depth. The result is written as JSON, Graphviz DOT and a layered SVG.
//
// De-embeddings (DeEmbed) score every token by W_E[v] . center(w_ln2 * W_enc[:, j]): the tokens
// whose embeddings most drive latent j directly.
package transcoder
