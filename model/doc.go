// Package model is a GPT-style decoder-only transformer on GoMLX with a hook point at every
// TransformerLens-named activation.
//
// The forward pass (model.go) reads top to bottom: embeddings, then per block LayerNorm ->
// attention -> LayerNorm -> MLP, then the final LayerNorm and the unembedding. Each activation
// passes through hooks.Active.Point under its TransformerLens name (blocks.3.attn.hook_z, ...),
// so caching, patching, ablation, steering and gradients are all hooks passed with a run; the
// Model holds no hook state. HookPoints lists every hook point and its shape once.
//
// # Dimension legend
//
//	B batch     P pos (query/key positions Pq, Pk)     D d_model
//	H heads     Hkv key/value heads (= H without GQA)    K d_head     M d_mlp      V vocab
//
// # Weights
//
// Weights are stored by TransformerLens name, attention per head: W_Q, W_K, W_V [H, D, K],
// W_O [H, K, D], so a head's QK circuit is W_Q[h] W_K[h]^T and its OV circuit W_V[h] W_O[h]
// (Model.QK, Model.OV). Load reads Hugging Face folders of every family in FamilyNames (GPT-2's
// layout in load.go, the others in family_*.go, one small loader each; safetensors or
// pytorch_model.bin, sharded or not); it is strict: a missing, unexpected or mis-shaped tensor is
// an error naming it. The architectures differ only in Config fields read by the one forward pass
// (RMSNorm, rotary embeddings, grouped-query attention, gated MLPs, parallel residuals, norms after
// the sublayers, q/k norms, soft-caps, local windows); docs/FAMILIES.md lists what each family sets.
//
// # Math
//
// LayerNorm (unfolded, as TransformerLens): x' = x - mean(x); scale = sqrt(mean(x'^2) + eps)
// (hook_scale); hook_normalized = x'/scale * w + b (RMSNorm: x' = x, no b). Rotary embeddings turn
// q and k after hook_q/hook_k (and any q/k norm): pairs (i, i + R/2) by angle pos * base^(-2i/R)
// (hook_rot_q, hook_rot_k). Attention: q,k,v = x W + b per head;
// scores = q k^T / sqrt(K) with -inf above the diagonal (hook_attn_scores); pattern =
// softmax(scores) (hook_pattern); z = pattern v (hook_z); result[h] = z[h] W_O[h] (hook_result,
// only materialised when a hook asks for it); attn_out = sum_h result[h] + b_O. MLP: pre =
// x W_in + b_in, post = act(pre) (gelu_new, gelu or relu), mlp_out = post W_out + b_out.
// Logits = ln_final(resid) W_U, with W_U = W_E^T when tied.
//
// # Generation
//
// Model.Generate decodes greedily or by sampling (temperature, top-k, top-p, seeded per
// completion), with stop tokens and batches of prompts of different lengths (left-padded, the
// padding masked and positions counted from each prompt's first token). With the key/value cache
// (decode.go) the prompts run once and each new token costs one position: the same forward pass,
// reading keys and values of earlier positions from a [B, T, Hkv, K] cache per layer (after their
// hooks and the rotary embedding). Hooks apply during generation as in Run, at the prompt's
// positions, the generated ones or both (Scope); hooks.Set.Add broadcasts a [D] steering vector.
//
// # Backends
//
// NewBackend picks XLA when a PJRT plugin is installed and GoMLX's pure-Go backend otherwise,
// never downloading a plugin. Gradients use the efficient DotGeneral and Slice VJPs of package
// autodiff.
package model
