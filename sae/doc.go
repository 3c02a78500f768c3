// Package sae trains, evaluates and runs sparse autoencoders (SAEs) on any hook point of a
// model, reads and writes them in the SAELens layout, and splices them into model runs.
// Transcoders (package transcoder) reuse it: an SAE maps input rows x [N, DIn] to latents
// f [N, F] and reconstructs a target y [N, DOut]; for an SAE y = x, a transcoder reads another
// hook and may add a skip term.
//
// # Dimensions
//
//	N rows (activations), DIn input width, F = d_sae latents, DOut reconstruction width.
//
// A Site turns a hook activation into rows: [B, P, X] gives B*P rows of X; a hook with a head
// axis [B, P, H, X] gives B*P rows of H*X (HeadsConcat, SAELens hook_z), B*P*H rows of X
// (HeadsPerHead, one SAE shared by every head) or B*P rows of one head (HeadsSingle).
//
// # Forward pass
//
//	pre  = (x - b_dec) W_enc + b_enc          (b_dec subtracted only with ApplyBDecToInput)
//	f    = act(pre)
//	yhat = f W_dec + b_dec (+ x W_skip^T for skip transcoders)
//
// with act, per architecture:
//
//	ReLU       f = max(pre, 0)                                   (SAELens "standard")
//	TopK       f = pre where pre is among the K largest of its row and > 0, else 0
//	BatchTopK  training: f = max(pre, 0) where it is among the K*N largest of the batch;
//	           inference: a JumpReLU with one threshold theta for every latent, theta the running
//	           average (rate 0.01) of the training batches' thresholds (saved as "jumprelu")
//	JumpReLU   f = pre * H(pre - max(theta_j, 0)), H the step function
//	Gated      f = H(pre) * ReLU((pre - b_gate) exp(r_mag) + b_mag), pre = (x - b_dec) W_enc + b_gate
//	           (Rajamanoharan et al. 2024; SAELens "gated": tensors W_enc, b_gate, r_mag, b_mag, W_dec,
//	           b_dec, no b_enc; SAEs only, and refused by the analyses needing pre-activations
//	           through an activation: steering, attribution graphs, weight-based circuits)
//
// SAE.Decode(f, x) is yhat, skip term included: what SAELens's forward returns. SAELens's decode
// leaves the skip term out; SAE.DecodeLatents(f) is that, f W_dec + b_dec.
//
// # Losses
//
// Every loss is averaged over the N rows of a batch (SAELens: sum over dims, mean over rows):
//
//	MSE   = 1/N sum_n ||yhat_n - y_n||^2
//	ReLU      L = MSE + lambda/N sum_n sum_j f_nj ||W_dec[j]||     (L1 scaled by decoder norms)
//	JumpReLU  L = MSE + lambda/N sum_n sum_j H(pre_nj - theta_j)   (L0)
//	TopK, BatchTopK  L = MSE + AuxK
//	Gated     L = MSE + lambda/N sum_n sum_j ReLU(pre_nj) ||W_dec[j]||
//	              + 1/N sum_n ||ReLU(pre_n) sg(W_dec) + sg(b_dec) - x_n||^2   (sg: stop-gradient;
//	              gradients by autodiff, train_gated.go)
//	AuxK  = alpha * min(n_dead / k_aux, 1) / N * sum_n ||z_n W_dec - (y_n - yhat_n)||^2
//
// where for AuxK (Gao et al. 2024, as SAELens) k_aux = DIn/2, z keeps the min(k_aux, n_dead)
// largest pre-activations among the dead latents of each row, and the residual is held fixed.
// lambda warms up linearly over SparsityWarmupSteps.
//
// Two variants of the training loss, TrainOptions fields:
//
//	MatryoshkaWidths w_1 < ... < w_m (BatchTopK; Bussmann et al. 2025, SAELens matryoshka_batchtopk):
//	  L += sum_i 1/N sum_n ||f_n[:w_i] W_dec[:w_i] + b_dec - y_n||^2   (each prefix reconstructs alone;
//	  inference is the BatchTopK SAE)
//	ConstrainUnitNormBoth (ReLU; the SAE of O'Neill & Bui's reference code): plain L1,
//	  lambda/N sum f_nj, and W_enc's and W_dec's columns held at unit norm (gradients projected,
//	  columns renormalised after each step)
//
// JumpReLU's step has no derivative; the threshold learns through the straight-through
// estimator of Rajamanoharan et al. 2024 with bandwidth eps (kernel rect(z) = 1 for |z| < 1/2):
//
//	dL/dtheta_j = -(1/eps) sum_n rect((pre_nj - theta_j)/eps) (theta_j dL/df_nj + lambda/N)
//
// (no straight-through gradient reaches pre; the gradient passes through max(theta, 0) where
// theta > 0).
//
// # Gradients and the update
//
// A training step's graphs have the gradients written out, which keeps the big ops to five
// N x F x D matmuls (autodiff would also form the input gradient for the tied b_dec):
//
//	dyhat  = 2 (yhat - y) / N                              [N, DOut]
//	df     = dyhat W_dec^T (+ lambda/N ||W_dec[j]|| for ReLU)  [N, F]
//	dpre   = df on the active latents (+ the AuxK term on its latents), 0 elsewhere
//	dW_dec = f^T dyhat (+ lambda/N (sum_n f_nj) W_dec[j]/||W_dec[j]|| for ReLU, + z^T dAux)
//	dW_enc = (x - b_dec)^T dpre,  db_enc = sum_n dpre
//	db_dec = sum_n dyhat - (sum_n dpre) W_enc^T            (second term with ApplyBDecToInput)
//	dW_skip = dyhat^T x
//
// With a unit-norm decoder each row's gradient loses its component along the row, g_j -= (g_j .
// w_j) w_j / ||w_j||^2, and rows are renormalised after the update. Adam is PyTorch's:
// m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, p -= lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps),
// with a linear learning-rate warm-up and a linear decay to LREnd over the last DecaySteps.
// The steps match a PyTorch autograd implementation of the same losses to 1e-7
// (reference_test.go, testdata/torch_sae_ref.py).
//
// GoMLX v0.26.0 has no TopK or Sort op: the training step computes the pre-activations in one
// graph, finds each row's k-th largest value (or the batch's (K*N)-th) on the host by
// quickselect and writes the active masks, which the step graph multiplies by (float arithmetic
// is vectorised on the CPU backend; comparisons and selects on [N, F] arrays are not). Spliced
// into a model run, TopK finds the k-th largest value in the graph by k rounds of "row maximum,
// mask it out" (KthLargestGraph).
//
// # Dead latents and resampling
//
// A latent is dead when it has not fired for DeadWindow rows. TopK and BatchTopK train dead
// latents with AuxK; any architecture can resample them (Resample, every ResampleEvery steps,
// as in Anthropic's "Towards Monosemanticity"): score ResampleRows fresh inputs by their
// reconstruction loss, draw one per dead latent with probability proportional to the squared
// loss, set the latent's decoder row to that input's residual (at the mean live decoder norm),
// its encoder column to the residual direction (the input, for transcoders) at 0.2 times the
// mean live encoder norm, its encoder bias to 0, and reset the Adam moments of those entries.
//
// # Activations
//
// ActivationStore runs token batches (a task's generator, or a token file via RowsSource)
// through the model, turns the site's activation into rows (optionally without position 0),
// mixes them in a shuffling buffer (fill to BufferRows, shuffle, serve half), optionally keeps
// them on disk for replay, and with Normalize scales them by s = sqrt(DIn) / E||x|| (SAELens
// "expected_average_only_in"). The trained weights get s folded in (W_enc s, W_dec / s,
// b_dec / s), so a saved SAE reads raw activations.
//
// # Metrics (Evaluate)
//
//	L0            mean number of active latents per row
//	MSE           mean over rows and dims of (yhat - y)^2
//	FVU           sum ||yhat - y||^2 / sum ||y - mean(y)||^2;  explained variance = 1 - FVU
//	cossim        mean over rows of cos(yhat, y);  l2 ratio: mean ||yhat|| / ||y||
//	CE loss       next-token cross-entropy of the clean model, with the SAE spliced in (Splice),
//	              with the SAE and its error term (equal to clean, a check), and with the site
//	              zero-ablated; CE loss score = (CE_zero - CE_sae) / (CE_zero - CE_clean)
//	KL            mean over positions of KL(clean || spliced); KL score = 1 - KL_sae / KL_zero
//	dead, dense   fractions of latents that never fire / fire on more than DenseThreshold of rows
//
// # Files
//
// Save and Load use the SAELens layout (cfg.json + sae_weights.safetensors, W_enc [d_in,
// d_sae], b_enc, W_dec [d_sae, d_in], b_dec, threshold for JumpReLU), loading current and older
// SAELens files strictly (see Load). Architecture names written, and whether SAELens reads them:
//
//	ReLU, TopK, JumpReLU, Gated SAE      standard, topk, jumprelu, gated           yes
//	BatchTopK SAE                        jumprelu (its global threshold per latent) yes, as SAELens saves BatchTopK
//	ReLU transcoder, skip transcoder     transcoder, skip_transcoder               yes
//	JumpReLU (and BatchTopK) transcoder  jumprelu_transcoder                       yes
//	JumpReLU skip transcoder             jumprelu_skip_transcoder                  yes; releases before its
//	                                                                               JumpReLUSkipTranscoder (6.18) refuse it
//	TopK transcoder, skip transcoder     topk_transcoder, topk_skip_transcoder     no: SAELens has no TopK
//	                                                                               transcoder and refuses the name
//
// (a TopK transcoder saved as "topk" would load in SAELens as an SAE on its input hook, losing
// d_out and hook_name_out). The hooks, d_out and this package's fields (head mode, training
// architecture, normalisation) survive a SAELens re-save: hook_name_out lives under metadata, and
// metadata.sae_lens_version names the 6.x layout so that SAELens does not migrate the file.
// normalize_activations constant_norm_rescale and layer_norm are applied at run time, as SAELens
// does (Config.RuntimeNorm); such SAEs encode, decode (with the input rows), splice and evaluate,
// and the analyses that need a fixed affine encoder (steering, attribution graphs, weight-based
// transcoder circuits, training) refuse them.
//
// Decode(f, x) includes a skip transcoder's x W_skip^T, what SAELens's forward returns;
// DecodeLatents(f) leaves it out, what SAELens's decode returns.
package sae
