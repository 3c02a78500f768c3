// Package workbench is `interp serve`: a web workbench in the binary. It serves six pages from
// assets embedded with go:embed (one HTML shell, one script, one style sheet; no CDN, no build
// step, no JavaScript dependency) and a JSON API over the same library calls as the commands:
//
//	GET  /api/info                 the model, its tasks, components, metrics and methods
//	GET  /api/files                what the --runs folders hold: runs, discover results, graphs, SAEs
//	GET  /api/file?root=&path=     one file from a --runs folder (plots beside the JSON)
//	POST /api/prompt               tokens, top-k next tokens, model.LogitLens, every attention pattern
//	POST /api/patch                patching.Experiment.Patch (and Attribute), as interp patch
//	POST /api/patch/cell           patching.Experiment.PatchedLogits: one cell's patched run
//	GET  /api/circuit?root=&path=  a discover result as a layered graph, with ground truth and ROC
//	POST /api/discover             circuits.Discover on the served model, as interp discover
//	GET  /api/compare?root=&path=  the overlap of two circuits (interp discover --compare --out)
//	GET  /api/run?root=&path=      a training run's metrics (after=STEP for polling), clamps, phase change
//	GET  /api/graph?root=&path=    an attribution graph file (interp graph --out)
//	GET  /api/features?...&latent= a latent's dashboard: sae.TopActivations with its histogram,
//	                               density and sae.LogitEffects (the tokens it promotes and suppresses)
//	GET  /api/features/search      sae.TokenLatents: the latents a token fires
//
// Safety: the server binds 127.0.0.1 unless told otherwise (CheckAddr); it reads files only under
// the folders named on the command line, refusing absolute paths, ".." and symlinks that lead out;
// request bodies are limited (Options.MaxBody); model jobs run one at a time behind a bounded
// queue (Options.Queue), and a full queue is answered 503 with a busy error; no CORS header is
// ever sent; every failure is a one-line JSON error ({"error": "..."}) and the server stays up.
//
// The pages: Prompt (tokens with CircuitsVis-style hover over attention, top-k, logit lens,
// attention heatmaps), Patching (an interactive heatmap, exact beside attribution, click a cell
// for the patched run), Circuits (layered graph, ground truth, ROC, faithfulness, side by side),
// Features (Neuronpedia-style dashboards and search by token), Graphs (attribution graphs with
// hover and pinning) and Runs (live loss curves of several runs, phase changes, clamps, head
// scores over training).
package workbench
