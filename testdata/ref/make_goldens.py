"""Generate the golden checkpoints and activations under testdata/golden/ (deterministic).

    /usr/bin/python3 testdata/ref/make_goldens.py            # from the repository root

For every variant this writes testdata/golden/<variant>/
    config.json              HF GPT-2 config (+ interp_* extensions)
    model.safetensors        HF GPT-2 weights, float32 (Conv1D layout)
    tokens.json              [[...], [...]]  batch of equal-length token-id lists
    activations.safetensors  "logits" [B,P,V] and every TransformerLens hook, float32

The weights are drawn from a seeded torch.Generator, written to disk, read back from disk and only
then run through gpt2_ref.run_with_cache (in float64, stored as float32), so the goldens describe
exactly the bytes in model.safetensors. The script then self-checks the reference against an
independent Hugging Face-style implementation (gpt2_ref.hf_style_forward: fused c_attn, split /
merge heads, python loops over attention) and fails if any shared tensor differs by > 1e-5.
"""

from __future__ import annotations

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gpt2_ref  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "testdata", "golden")
SEED = 20240611
TOL = 1e-5

# Each variant: architecture + how it is written to disk.
VARIANTS = [
    dict(
        name="gpt2-tiny",
        n_layer=2, n_embd=32, n_head=4, d_head=None, n_inner=64, n_ctx=16, vocab=64,
        act="gelu_new", eps=1e-5, tied=True, attn_only=False, normalization="LN", pos_embed=True,
        prefix="", mask_buffers=True, batch=2, pos=8,
    ),
    dict(
        name="gpt2-tiny-untied",
        n_layer=3, n_embd=24, n_head=3, d_head=None, n_inner=48, n_ctx=16, vocab=64,
        act="gelu", eps=1e-5, tied=False, attn_only=False, normalization="LN", pos_embed=True,
        prefix="transformer.", mask_buffers=False, batch=2, pos=8,
    ),
    dict(
        name="attn-only-tiny",
        n_layer=2, n_embd=32, n_head=4, d_head=None, n_inner=None, n_ctx=16, vocab=50,
        act="gelu_new", eps=1e-5, tied=False, attn_only=True, normalization="none", pos_embed=True,
        prefix="", mask_buffers=False, batch=2, pos=8,
    ),
    dict(
        name="gpt2-tiny-dhead",
        n_layer=1, n_embd=32, n_head=4, d_head=16, n_inner=64, n_ctx=16, vocab=64,
        act="relu", eps=1e-5, tied=True, attn_only=False, normalization="LN", pos_embed=True,
        prefix="", mask_buffers=False, batch=2, pos=8,
    ),
    # (extra) no positional embeddings (interp_no_pos_embed): resid_pre = embed, no hook_pos_embed.
    dict(
        name="gpt2-tiny-nopos",
        n_layer=1, n_embd=16, n_head=2, d_head=None, n_inner=32, n_ctx=16, vocab=32,
        act="gelu_new", eps=1e-5, tied=True, attn_only=False, normalization="LN", pos_embed=False,
        prefix="", mask_buffers=False, batch=2, pos=8,
    ),
    # (extra) shortformer positional embeddings (interp_shortformer): W_pos goes into the queries'
    # and keys' inputs after ln1, not into the residual stream.
    dict(
        name="attn-only-tiny-shortformer",
        n_layer=2, n_embd=32, n_head=4, d_head=None, n_inner=None, n_ctx=16, vocab=50,
        act="gelu_new", eps=1e-5, tied=False, attn_only=True, normalization="LN", pos_embed=True,
        shortformer=True, prefix="", mask_buffers=False, batch=2, pos=8,
    ),
]

# Standard deviations of the random weights: large enough that attention patterns are far from
# uniform and MLP activations are not all in the linear regime.
STD = dict(wte=0.5, wpe=0.3, qkv=0.25, proj=0.2, fc=0.25, mlp_proj=0.15, bias=0.1, ln_w=0.1, ln_b=0.1, lm_head=0.3)


def hf_config(v: dict) -> dict:
    """The config.json contents for a variant (same keys as model.WriteHFConfig writes)."""
    cfg = {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "n_layer": v["n_layer"],
        "n_embd": v["n_embd"],
        "n_head": v["n_head"],
        "n_inner": v["n_inner"],
        "n_positions": v["n_ctx"],
        "n_ctx": v["n_ctx"],
        "vocab_size": v["vocab"],
        "activation_function": v["act"],
        "layer_norm_epsilon": v["eps"],
        "tie_word_embeddings": v["tied"],
    }
    if v["attn_only"]:
        cfg["interp_attn_only"] = True
    if v["normalization"] != "LN":
        cfg["interp_normalization"] = v["normalization"]
    if not v["pos_embed"]:
        cfg["interp_no_pos_embed"] = True
    if v.get("shortformer"):
        cfg["interp_shortformer"] = True
    if v["d_head"] is not None and v["d_head"] * v["n_head"] != v["n_embd"]:
        cfg["interp_d_head"] = v["d_head"]
    return cfg


def random_hf_state_dict(v: dict, gen: torch.Generator) -> dict:
    """Random float32 HF GPT-2 weights for a variant (all biases non-zero, LN weights ~ 1)."""
    D, H, V, C = v["n_embd"], v["n_head"], v["vocab"], v["n_ctx"]
    K = v["d_head"] or D // H
    HK, M = H * K, v["n_inner"]
    use_ln = v["normalization"] == "LN"

    def randn(*shape, std):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * std).to(torch.float32)

    sd = {"wte.weight": randn(V, D, std=STD["wte"])}
    if v["pos_embed"]:
        sd["wpe.weight"] = randn(C, D, std=STD["wpe"])
    for L in range(v["n_layer"]):
        h = f"h.{L}."
        if use_ln:
            sd[h + "ln_1.weight"] = 1.0 + randn(D, std=STD["ln_w"])
            sd[h + "ln_1.bias"] = randn(D, std=STD["ln_b"])
        sd[h + "attn.c_attn.weight"] = randn(D, 3 * HK, std=STD["qkv"])
        sd[h + "attn.c_attn.bias"] = randn(3 * HK, std=STD["bias"])
        sd[h + "attn.c_proj.weight"] = randn(HK, D, std=STD["proj"])
        sd[h + "attn.c_proj.bias"] = randn(D, std=STD["bias"])
        if v["mask_buffers"]:
            # HF GPT-2 checkpoints carry these non-parameter buffers; loaders must ignore them.
            sd[h + "attn.bias"] = torch.tril(torch.ones(C, C, dtype=torch.float32)).view(1, 1, C, C)
            sd[h + "attn.masked_bias"] = torch.tensor(-1e4, dtype=torch.float32)
        if not v["attn_only"]:
            if use_ln:
                sd[h + "ln_2.weight"] = 1.0 + randn(D, std=STD["ln_w"])
                sd[h + "ln_2.bias"] = randn(D, std=STD["ln_b"])
            sd[h + "mlp.c_fc.weight"] = randn(D, M, std=STD["fc"])
            sd[h + "mlp.c_fc.bias"] = randn(M, std=STD["bias"])
            sd[h + "mlp.c_proj.weight"] = randn(M, D, std=STD["mlp_proj"])
            sd[h + "mlp.c_proj.bias"] = randn(D, std=STD["bias"])
    if use_ln:
        sd["ln_f.weight"] = 1.0 + randn(D, std=STD["ln_w"])
        sd["ln_f.bias"] = randn(D, std=STD["ln_b"])
    sd = {v["prefix"] + k: t for k, t in sd.items()}
    if not v["tied"]:
        sd["lm_head.weight"] = randn(V, D, std=STD["lm_head"])  # never prefixed, as in HF
    return sd


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Max |a-b|, treating equal infinities (the -inf causal mask) as equal."""
    a, b = a.to(torch.float64), b.to(torch.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    same_inf = torch.isinf(a) & torch.isinf(b) & (torch.sign(a) == torch.sign(b))
    if bool((torch.isinf(a) ^ torch.isinf(b)).any()) or bool(torch.isnan(a).any() or torch.isnan(b).any()):
        return float("inf")
    d = torch.where(same_inf, torch.zeros_like(a), (a - b).abs())
    return float(d.max()) if d.numel() else 0.0


def expected_hook_names(cfg: gpt2_ref.RefConfig) -> list[str]:
    """Every hook name the semantics require for this config (used to check completeness)."""
    names = ["hook_embed"] + (["hook_pos_embed"] if cfg.positional_embeddings else [])
    ln = cfg.normalization == "LN"
    for L in range(cfg.n_layers):
        b = f"blocks.{L}."
        names.append(b + "hook_resid_pre")
        if ln:
            names += [b + "ln1.hook_scale", b + "ln1.hook_normalized"]
        names += [b + "attn.hook_" + s for s in ("q", "k", "v", "attn_scores", "pattern", "z", "result")]
        names.append(b + "hook_attn_out")
        if not cfg.attn_only:
            names.append(b + "hook_resid_mid")
            if ln:
                names += [b + "ln2.hook_scale", b + "ln2.hook_normalized"]
            names += [b + "mlp.hook_pre", b + "mlp.hook_post", b + "hook_mlp_out"]
        names.append(b + "hook_resid_post")
    if ln:
        names += ["ln_final.hook_scale", "ln_final.hook_normalized"]
    return names


def make_variant(v: dict, gen: torch.Generator) -> dict:
    d = os.path.join(OUT, v["name"])
    os.makedirs(d, exist_ok=True)

    # 1. checkpoint
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(hf_config(v), f, indent=2)
        f.write("\n")
    sd = random_hf_state_dict(v, gen)
    gpt2_ref.write_safetensors(os.path.join(d, "model.safetensors"), sd, {"format": "pt"})

    # 2. tokens
    tokens = torch.randint(0, v["vocab"], (v["batch"], v["pos"]), generator=gen)
    with open(os.path.join(d, "tokens.json"), "w") as f:
        json.dump(tokens.tolist(), f)
        f.write("\n")

    # 3. activations, computed from what is on disk
    cfg, params, sd_disk = gpt2_ref.load_checkpoint(d)
    for k in sd:
        assert torch.equal(sd[k], sd_disk[k]), f"safetensors round trip changed {k}"
    with open(os.path.join(d, "tokens.json")) as f:
        tok = torch.tensor(json.load(f), dtype=torch.long)
    logits, cache = gpt2_ref.run_with_cache(params, cfg, tok, dtype=torch.float64)
    missing = set(expected_hook_names(cfg)) ^ set(cache)
    assert not missing, f"hook set mismatch: {sorted(missing)}"
    acts = {"logits": logits.to(torch.float32)}
    acts.update({k: t.to(torch.float32).contiguous() for k, t in cache.items()})
    meta = {
        "variant": v["name"],
        "generator": "testdata/ref/make_goldens.py (gpt2_ref.run_with_cache, computed in float64, stored float32)",
        "seed": str(SEED),
    }
    path = os.path.join(d, "activations.safetensors")
    gpt2_ref.write_safetensors(path, acts, meta)
    back, _ = gpt2_ref.read_safetensors(path)
    for k in acts:
        assert torch.equal(acts[k], back[k]), f"activations round trip changed {k}"

    # 4. self-checks
    report = {"variant": v["name"], "hooks": len(cache)}
    # (a) einsum reference vs independent HF-style (loops, fused c_attn, F.layer_norm) in float64
    hf_logits, hf_acts = gpt2_ref.hf_style_forward(sd_disk, cfg, tok, dtype=torch.float64)
    assert set(hf_acts) == set(cache), sorted(set(hf_acts) ^ set(cache))
    diffs = {"logits": max_abs_diff(logits, hf_logits)}
    for k, t in hf_acts.items():
        diffs[k] = max_abs_diff(cache[k], t)
    worst = max(diffs, key=diffs.get)
    report["vs_hf_style_f64_max_diff"] = diffs[worst]
    report["vs_hf_style_worst"] = worst
    report["vs_hf_style_n_compared"] = len(diffs)
    # (b) the same einsum reference in float32 vs the float64 goldens (what an fp32 engine can expect)
    logits32, cache32 = gpt2_ref.run_with_cache(params, cfg, tok, dtype=torch.float32)
    d32 = {"logits": max_abs_diff(logits32, logits)}
    d32.update({k: max_abs_diff(cache32[k], cache[k]) for k in cache})
    report["f32_vs_f64_max_diff"] = max(d32.values())
    # (c) sanity: attention is far from uniform, logits have a healthy scale
    pats = [t for k, t in cache.items() if k.endswith("hook_pattern")]
    # mean over heads/rows (query pos >= 4) of the largest attention weight; uniform would be <= 0.2
    report["pattern_mean_rowmax_q>=4"] = round(float(torch.stack([p[..., 4:, :].max(-1).values.mean() for p in pats]).mean()), 4)
    report["logits_std"] = round(float(logits.std()), 4)
    report["bytes"] = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    if diffs[worst] > TOL:
        raise SystemExit(f"SELF-CHECK FAILED for {v['name']}: {worst} differs by {diffs[worst]:.3g} > {TOL}")
    return report


def main():
    gen = torch.Generator().manual_seed(SEED)
    reports = []
    for v in VARIANTS:
        reports.append(make_variant(v, gen))
    for r in reports:
        print(json.dumps(r))
    print(f"OK: {len(reports)} variants written to {os.path.relpath(OUT, os.getcwd())}")


if __name__ == "__main__":
    main()
