// Package hooks names the hook points of a transformer (TransformerLens convention), carries
// the hooks of one run, and analyses cached activations.
//
// A Set is built per run and passed to model.Run; the model holds no hook state. Hooks:
//
//	Cache(names...)            record activations (CacheFilter, CacheAll)
//	Replace(name, tensor)      set an activation to a fed tensor (activation patching)
//	Add(name, tensor)          add to an activation (steering)
//	Zero(name)                 zero-ablate
//	Func(name, key, fn, in...) any function of the graph node, with fed inputs
//	Grad(key, metric, names)   d(metric)/d(activation) at hook points (attribution patching)
//
// Tensors enter the graph as inputs, so a sweep that changes only values reuses one compiled
// graph (Set.Key identifies the layout). A cached activation is the value after the point's
// hooks. Unknown hook names and mis-shaped values are errors that name the hook.
//
// Cache holds the cached activations (TransformerLens's ActivationCache) and the standard
// analyses: AccumulatedResid (the logit lens), DecomposeResid (embeddings plus every attention
// and MLP output, summing to the residual stream), StackHeadResults (hook_result per head) and
// direct logit attribution: ApplyLNToStack centres each component and divides it by the cached
// final LayerNorm scale, and LogitAttrs projects it onto a residual direction, e.g. the final
// LayerNorm weight times W_U[:, a] - W_U[:, b]. Then
//
//	logit[a] - logit[b] = sum over components of LogitAttrs + ln_final.b . (W_U[:, a] - W_U[:, b]).
package hooks
