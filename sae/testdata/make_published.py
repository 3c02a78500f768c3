"""Tiny pretrained dictionaries in their authors' published layouts, with expected outputs.

    /usr/bin/python3 sae/testdata/make_published.py      # from the repository root; deterministic

Writes sae/testdata/published/:
    gemma-scope/params.npz      Gemma Scope JumpReLU (W_enc [d_in, d_sae], W_dec, b_enc, b_dec, threshold)
    layers.3/cfg.json, layers.3/sae.safetensors
                                EleutherAI sparsify TopK (encoder.weight [F, D], encoder.bias, W_dec, b_dec)
    expected.json               inputs x [4, 8] and, per SAE, latents f and reconstructions x_hat,
                                computed here from the published definitions in float64:
        Gemma Scope: pre = x W_enc + b_enc; f = pre * (pre > threshold); x_hat = f W_dec + b_dec
        sparsify:    pre = relu((x - b_dec) W^T + b); f keeps the k largest of pre; x_hat = f W_dec + b_dec
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata", "ref"))
import families_ref as R  # noqa: E402  (its safetensors writer)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "published")
rng = np.random.default_rng(20261202)
D, F, K = 8, 16, 3
x = rng.normal(size=(4, D)).astype(np.float32)

# Gemma Scope.
g = dict(W_enc=rng.normal(size=(D, F)).astype(np.float32), W_dec=rng.normal(size=(F, D)).astype(np.float32),
         b_enc=rng.normal(size=F).astype(np.float32) * 0.5, b_dec=rng.normal(size=D).astype(np.float32) * 0.5,
         threshold=np.abs(rng.normal(size=F)).astype(np.float32))
os.makedirs(os.path.join(OUT, "gemma-scope"), exist_ok=True)
np.savez(os.path.join(OUT, "gemma-scope", "params.npz"), **g)
d64 = {k: v.astype(np.float64) for k, v in g.items()}
pre = x.astype(np.float64) @ d64["W_enc"] + d64["b_enc"]
fg = pre * (pre > d64["threshold"])
xg = fg @ d64["W_dec"] + d64["b_dec"]

# sparsify.
s = {"encoder.weight": rng.normal(size=(F, D)).astype(np.float32), "encoder.bias": rng.normal(size=F).astype(np.float32) * 0.5,
     "W_dec": rng.normal(size=(F, D)).astype(np.float32), "b_dec": rng.normal(size=D).astype(np.float32) * 0.5}
os.makedirs(os.path.join(OUT, "layers.3"), exist_ok=True)
R.write_safetensors(os.path.join(OUT, "layers.3", "sae.safetensors"), {k: torch.from_numpy(v) for k, v in s.items()})
with open(os.path.join(OUT, "layers.3", "cfg.json"), "w") as f:
    json.dump({"expansion_factor": 2, "normalize_decoder": True, "num_latents": F, "k": K, "multi_topk": False,
               "skip_connection": False, "transcode": False, "d_in": D}, f, indent=2)
s64 = {k: v.astype(np.float64) for k, v in s.items()}
pre = np.maximum((x.astype(np.float64) - s64["b_dec"]) @ s64["encoder.weight"].T + s64["encoder.bias"], 0)
fs = np.zeros_like(pre)
for i, row in enumerate(pre):
    top = np.argsort(-row, kind="stable")[:K]
    fs[i, top] = row[top]
xs = fs @ s64["W_dec"] + s64["b_dec"]

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump({"x": x.tolist(), "gemma_scope": {"f": fg.tolist(), "x_hat": xg.tolist()},
               "sparsify": {"f": fs.tolist(), "x_hat": xs.tolist()}}, f)
print("wrote", OUT)

# d_in 32 copies for the CLI test on testdata/golden-families/llama-gqa-bf16-sharded (d_model 32).
D2, F2 = 32, 64
g2 = dict(W_enc=(rng.normal(size=(D2, F2)) * 0.2).astype(np.float32), W_dec=(rng.normal(size=(F2, D2)) * 0.2).astype(np.float32),
          b_enc=np.zeros(F2, np.float32), b_dec=np.zeros(D2, np.float32), threshold=np.full(F2, 0.1, np.float32))
os.makedirs(os.path.join(OUT, "d32", "gemma-scope"), exist_ok=True)
np.savez(os.path.join(OUT, "d32", "gemma-scope", "params.npz"), **g2)
s2 = {"encoder.weight": (rng.normal(size=(F2, D2)) * 0.2).astype(np.float32), "encoder.bias": np.zeros(F2, np.float32),
      "W_dec": (rng.normal(size=(F2, D2)) * 0.2).astype(np.float32), "b_dec": np.zeros(D2, np.float32)}
os.makedirs(os.path.join(OUT, "d32", "layers.1"), exist_ok=True)
R.write_safetensors(os.path.join(OUT, "d32", "layers.1", "sae.safetensors"), {k: torch.from_numpy(v) for k, v in s2.items()})
with open(os.path.join(OUT, "d32", "layers.1", "cfg.json"), "w") as f:
    json.dump({"num_latents": F2, "k": 8, "skip_connection": False, "d_in": D2}, f, indent=2)
