// Package attrgraph builds per-prompt attribution graphs over transcoders: the method of
// Anthropic's "circuit tracing" (Ameisen et al. 2025) as the open circuit-tracer library
// implements it, as a client of the one hooked forward pass.
//
// # Dimensions
//
//	P positions, D d_model, H heads (Hkv key/value heads), K d_head, L layers, F latents.
//
// # The local replacement model (Replacement)
//
// On one prompt, each MLP's output is split into its transcoder's active features and an error
// node (the exact difference between the MLP's output and the transcoder's reconstruction; a
// layer without a transcoder is all error). Attention patterns and the scales of every norm
// (ln1, ln2, ln1_post, ln2_post, ln_final) are frozen at their values on the prompt (Freeze).
// Replacement.Hooks installs this model on the forward pass; on the prompt it reproduces the
// model's logits (TestReplacementReproducesLogits, frozen and recomputed, on six architectures).
//
// # Nodes and edges (Graph)
//
// Nodes, in circuit-tracer's order: the active features (layer, position, latent), the error
// nodes (layer, position), the token embeddings (one per position; with learned positions the
// embedding node is token + positional embedding, what enters block 0) and the logits (the
// most probable next tokens until their probabilities reach 0.95, at most 10). A feature's value
// is its pre-activation W_enc[:, j] . x (x its transcoder's input, ln2.hook_normalized); a
// logit's value is (W_U[:, v] - mean_v W_U) . ln_final(resid)[P-1], the logit minus the mean
// logit, before any soft-cap (Gemma 2).
//
// With patterns and norm scales frozen and the MLP outputs made of sources, the residual stream
// is affine in the sources, so a target's value is a fixed linear function of every source's
// write. The edge from source s to target t is its direct effect:
//
//	A[t, s] = a_s W_dec[s] . dv_t/d mlp_out^k[p_s]        feature s of layer k at position p_s
//	A[t, e] = err^k[p] . dv_t/d mlp_out^k[p]              error node
//	A[t, e] = embed[p] . dv_t/d resid_pre^0[p]            token node
//
// The gradients go only through the residual stream, the attention OV circuits (patterns held)
// and skip transcoders' W_skip, never through another feature. They are computed for a batch of
// targets at once by the backward pass written in adjoint.go (a GoMLX graph on the model's
// backend), checked against the model's own forward pass with hooks: removing a source's write
// moves each target by exactly minus the edge (TestEdgesAreDirectEffects).
//
// # Heads (Replacement.SplitByHead)
//
// Heads are not nodes (patterns are frozen), so an edge may run through several. SplitByHead
// splits a target's edges by the last head on each path: one backward pass whose row 0 is the
// target and whose attention step sends row 0's gradient through each head (k, h) into row
// 1 + k*H + h; labelled rows pass through every earlier head unchanged in label. The rows sum to
// the edges.
//
// # Interventions (Replacement.Intervene, Graph.Predict)
//
// An Intervention sets, scales or shifts feature j of layer l at position p; (a' - a) W_dec[j] is
// added to the layer's MLP output. Mode Direct holds patterns, norm scales and MLP outputs (the
// logit nodes then move by sum_s A[t, s] (a'_s - a_s)/a_s, Prediction.Direct); Linear runs the
// local replacement model (later features respond: with J[t, s] = A[t, s]/a_s and the features
// in layer order, da_t = sum_s J[t, s] da_s + the intervention's own change, Prediction.Paths);
// FrozenAttention holds the patterns only (circuit-tracer's default) and Recomputed nothing.
//
// # Cross-layer transcoders (NewReplacementCLT)
//
// With a CLT (package transcoder) a latent of layer l writes into the MLP output of every layer
// m >= l, and layer m's error node is its MLP output minus the reconstruction from every earlier
// layer's latents. The latent is one node; its edge to a target sums its reads at every layer it
// writes: A[t, s] = sum_{m >= l} a_s W_dec_l[s, m-l] . dv_t/d mlp_out^m[p_s].
//
// # Over training (Frame)
//
// Frame summarises a graph's top logit so that graphs of one prompt over the snapshots of a run
// compare although each snapshot has its own dictionaries: the scores, the logit's inputs grouped
// by token, error node and (layer, position) of features, and what each head carries.
//
// # Pruning (Graph.Prune) and scores (Graph.Scores)
//
// As circuit-tracer's prune_graph and compute_graph_scores. With Â the adjacency's absolute
// values normalised to sum 1 per row and w the logit probabilities on the logit nodes, a node's
// influence is w Â + w Â^2 + ... (summed exactly: the graph is acyclic). Nodes holding
// nodeThreshold (0.8) of the influence are kept (tokens and logits always); among them, edges
// holding edgeThreshold (0.98) of the edge influence Â[i, j] (influence_i + w_i); then features and
// errors without outgoing edges, and features without incoming ones, are dropped until stable.
// Replacement score: token influence / (token + error influence). Completeness: the
// influence-weighted share of each node's normalised input not from error nodes.
//
// # Graph files (Graph.File)
//
// circuit-tracer's frontend schema (frontend/graph_models.py): metadata, qParams, nodes
// (node_id "layer_feature_pos", error "layer_-1_pos", embedding "E_token_pos", logit
// "(L+1)_token_pos"; feature_type "cross layer transcoder" for every feature, as circuit-tracer
// writes), links {source, target, weight}. testdata/graph.schema.json is that schema as JSON
// Schema; the tests validate against it. File.WriteSVG draws the pruned graph and File.WriteHTML
// makes a self-contained interactive page of it.
package attrgraph
