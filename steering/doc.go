// Package steering finds steering vectors and turns steering specifications into hooks, for
// generation with interventions (model.Generate, `interp generate`).
//
// A difference-of-means direction at a hook (Turner et al.'s activation addition, Arditi et al.'s
// refusal direction, Marks & Tegmark's mass-mean probe) is
//
//	d = mean_{x in positive} a(x) - mean_{x in negative} a(x)
//
// where a(x) is the hook's activation at each prompt's last token (or averaged over its tokens),
// of the hook's per-position shape ([D] for the residual stream, [H, K] for hook_z). Steering adds
// coef * d at every position of the hook (hooks.Set.Add broadcasts it):
//
//	--steer 'blocks.1.hook_resid_post+=dir.safetensors*4'
//
// Feature steering changes one latent of an SAE or transcoder and writes the change back through
// its decoder with the error term kept (sae.Steer, transcoder.Steer):
//
//	--feature-steer 'SAE_DIR:LATENT=VALUE'   (also *=S to scale it, +=A to add to it)
package steering
