"""PyTorch CPU reference timings for the interp engine's forward pass (with a residual-stream cache).

    /usr/bin/python3 bench/torch_forward.py [--runs N] [--skip-tl]

Prints one JSON object on stdout (progress goes to stderr). Measured:

  gpt2_small_b8_p128_ms      GPT-2-small-shaped random model (12 layers, d_model 768, 12 heads,
                             d_mlp 3072, vocab 50257, n_ctx 1024), batch 8 x pos 128, forward pass
                             keeping every resid hook (resid_pre / resid_mid / resid_post of every
                             layer) plus logits. Efficient torch formulation (fused QKV addmm,
                             batched attention, merged-head output projection, F.layer_norm,
                             tanh-GELU) -- what "plain PyTorch" achieves.
  gpt2_small_b8_p128_tl_einsum_ms
                             the same model through testdata/ref/gpt2_ref.run_with_cache in
                             float32: TransformerLens-style per-head einsums and the full
                             hook_result [B,P,H,D] materialised (as TransformerLens does with
                             use_attn_result), but only the resid hooks kept.
  attn_only_2l_b32_p64_ms    2-layer attention-only model, d_model 64, 8 heads x d_head 8,
                             vocab 512, n_ctx 64, no LayerNorm, batch 32 x pos 64, same caching.
  matmul_1024x768x3072_gflops  a plain fp32 [1024,768] @ [768,3072] (the GPT-2 MLP-in shape).
  gpt2_small_forward_gflop   matmul FLOPs of forward (i): 2*N*(3D^2 + D^2 + 2DM) per layer,
                             + attention scores and pattern@V (2*B*H*P*P*K each, full P x P, no
                             causal halving), + unembedding 2*N*D*V.  N = B*P tokens.
  *_effective_gflops         those FLOPs / median time.

All times are medians (min also reported) over --runs timed runs after warm-up, under torch.no_grad() with
torch.set_num_threads(os.cpu_count()).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "testdata", "ref"))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------


def random_params(L, D, H, K, M, V, C, ln=True, attn_only=False, seed=0):
    """Random float32 weights in a fused, matmul-friendly layout (W_qkv [D,3HK], W_O [HK,D])."""
    g = torch.Generator().manual_seed(seed)

    def r(*s, std=0.02):
        return torch.randn(*s, generator=g) * std

    p = {"W_E": r(V, D), "W_pos": r(C, D, std=0.01), "blocks": []}
    for _ in range(L):
        b = {
            "W_qkv": r(D, 3 * H * K), "b_qkv": r(3 * H * K),
            "W_O": r(H * K, D), "b_O": r(D),
        }
        if ln:
            b.update(ln1_w=1 + r(D), ln1_b=r(D))
        if not attn_only:
            b.update(W_in=r(D, M), b_in=r(M), W_out=r(M, D), b_out=r(D))
            if ln:
                b.update(ln2_w=1 + r(D), ln2_b=r(D))
        p["blocks"].append(b)
    if ln:
        p["lnf_w"], p["lnf_b"] = 1 + r(D), r(D)
    return p


def forward_with_resid_cache(p, tokens, H, K, eps=1e-5, ln=True, attn_only=False):
    """Forward pass (TransformerLens semantics) keeping every resid hook; returns (logits, cache)."""
    B, P = tokens.shape
    D = p["W_E"].shape[1]
    N = B * P
    cache = {}
    mask = torch.ones(P, P, dtype=torch.bool).triu(1)  # True where key s > query q
    resid = p["W_E"][tokens] + p["W_pos"][:P]
    for i, b in enumerate(p["blocks"]):
        cache[f"blocks.{i}.hook_resid_pre"] = resid
        x = F.layer_norm(resid, (D,), b["ln1_w"], b["ln1_b"], eps) if ln else resid
        qkv = torch.addmm(b["b_qkv"], x.reshape(N, D), b["W_qkv"]).view(B, P, 3, H, K).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B,H,P,K]
        scores = torch.matmul(q, k.transpose(-1, -2)).mul_(1.0 / math.sqrt(K)).masked_fill_(mask, float("-inf"))
        z = torch.matmul(torch.softmax(scores, dim=-1), v)  # [B,H,P,K]
        z = z.transpose(1, 2).reshape(N, H * K)
        attn_out = torch.addmm(b["b_O"], z, b["W_O"]).view(B, P, D)
        if attn_only:
            resid = resid + attn_out
        else:
            resid_mid = resid + attn_out
            cache[f"blocks.{i}.hook_resid_mid"] = resid_mid
            x = F.layer_norm(resid_mid, (D,), b["ln2_w"], b["ln2_b"], eps) if ln else resid_mid
            h = F.gelu(torch.addmm(b["b_in"], x.reshape(N, D), b["W_in"]), approximate="tanh")
            resid = resid_mid + torch.addmm(b["b_out"], h, b["W_out"]).view(B, P, D)
        cache[f"blocks.{i}.hook_resid_post"] = resid
    x = F.layer_norm(resid, (D,), p["lnf_w"], p["lnf_b"], eps) if ln else resid
    logits = torch.matmul(x.reshape(N, D), p["W_E"].t()).view(B, P, -1)  # tied unembedding
    return logits, cache


def to_tl_params(p, H, K, ln=True, attn_only=False):
    """The same weights in gpt2_ref's TransformerLens layout (per-head W_Q [H,D,K], W_O [H,K,D])."""
    D = p["W_E"].shape[1]
    HK = H * K
    t = {"embed.W_E": p["W_E"], "pos_embed.W_pos": p["W_pos"], "unembed.W_U": p["W_E"].t().contiguous()}
    for i, b in enumerate(p["blocks"]):
        n = f"blocks.{i}."
        for j, s in enumerate("QKV"):
            t[n + f"attn.W_{s}"] = b["W_qkv"][:, j * HK : (j + 1) * HK].reshape(D, H, K).permute(1, 0, 2).contiguous()
            t[n + f"attn.b_{s}"] = b["b_qkv"][j * HK : (j + 1) * HK].reshape(H, K)
        t[n + "attn.W_O"], t[n + "attn.b_O"] = b["W_O"].reshape(H, K, D), b["b_O"]
        if ln:
            t[n + "ln1.w"], t[n + "ln1.b"] = b["ln1_w"], b["ln1_b"]
        if not attn_only:
            t[n + "mlp.W_in"], t[n + "mlp.b_in"], t[n + "mlp.W_out"], t[n + "mlp.b_out"] = b["W_in"], b["b_in"], b["W_out"], b["b_out"]
            if ln:
                t[n + "ln2.w"], t[n + "ln2.b"] = b["ln2_w"], b["ln2_b"]
    if ln:
        t["ln_final.w"], t["ln_final.b"] = p["lnf_w"], p["lnf_b"]
    return t


def forward_flops(L, D, H, K, M, V, B, P, attn_only=False):
    N = B * P
    HK = H * K
    per_layer = 2 * N * D * 3 * HK + 2 * N * HK * D + 2 * (2 * B * H * P * P * K)
    if not attn_only:
        per_layer += 2 * (2 * N * D * M)
    return L * per_layer + 2 * N * D * V


# ---------------------------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------------------------


def time_ms(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts), ts


def blas_info():
    """Which BLAS torch links: build info plus the BLAS/LAPACK shared objects actually mapped."""
    cfg = torch.__config__.show()
    build = {}
    for key in ("BLAS_INFO", "LAPACK_INFO", "USE_MKLDNN", "USE_OPENMP"):
        i = cfg.find(key + "=")
        if i >= 0:
            build[key] = cfg[i + len(key) + 1 :].split(",")[0].strip()
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                base = os.path.basename(path).lower()
                if any(s in base for s in ("blas", "lapack", "mkl", "dnnl", "gomp", "omp")):
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return build, sorted(libs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5, help="timed runs for the GPT-2-small forward (others use more)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--skip-tl", action="store_true", help="skip the TransformerLens-style einsum timing")
    args = ap.parse_args()

    load0 = os.getloadavg()[0]
    threads = os.cpu_count()
    torch.set_num_threads(threads)
    out = {
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "threads": threads,
        "torch_get_num_threads": torch.get_num_threads(),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    out["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    with torch.no_grad():
        # --- plain matmul, GPT-2 MLP-in shape ---
        g = torch.Generator().manual_seed(1)
        a, w = torch.randn(1024, 768, generator=g), torch.randn(768, 3072, generator=g)
        med, _ = time_ms(lambda: torch.matmul(a, w), runs=20, warmup=3)
        mm_flop = 2 * 1024 * 768 * 3072
        out["matmul_1024x768x3072_ms"] = round(med, 3)
        out["matmul_1024x768x3072_gflops"] = round(mm_flop / (med * 1e-3) / 1e9, 2)
        log(f"matmul: {med:.2f} ms")
        build, libs = blas_info()  # after a matmul, so the BLAS library is surely mapped
        out["blas_build_info"] = build
        out["blas_libs_loaded"] = libs

        # --- (i) GPT-2-small-shaped model, batch 8 x pos 128 ---
        L, D, H, K, M, V, C, B, P = 12, 768, 12, 64, 3072, 50257, 1024, 8, 128
        params = random_params(L, D, H, K, M, V, C, seed=0)
        tokens = torch.randint(0, V, (B, P), generator=torch.Generator().manual_seed(2))
        flops = forward_flops(L, D, H, K, M, V, B, P)
        fwd = lambda: forward_with_resid_cache(params, tokens, H, K)  # noqa: E731
        logits, cache = fwd()
        assert logits.shape == (B, P, V) and len(cache) == 3 * L, (logits.shape, len(cache))
        med, ts = time_ms(fwd, runs=args.runs, warmup=args.warmup)
        out["gpt2_small_b8_p128_ms"] = round(med, 1)
        out["gpt2_small_b8_p128_min_ms"] = round(min(ts), 1)
        out["gpt2_small_b8_p128_runs_ms"] = [round(t, 1) for t in ts]
        out["gpt2_small_forward_gflop"] = round(flops / 1e9, 2)
        out["gpt2_small_effective_gflops"] = round(flops / (med * 1e-3) / 1e9, 2)
        log(f"gpt2-small b8 p128: {med:.1f} ms")

        if not args.skip_tl:
            import gpt2_ref

            cfg = gpt2_ref.RefConfig(n_layers=L, d_model=D, n_heads=H, d_head=K, d_mlp=M, n_ctx=C, d_vocab=V, act_fn="gelu_new")
            tl = to_tl_params(params, H, K)
            keep = lambda n: "hook_resid" in n  # noqa: E731
            tl_fwd = lambda: gpt2_ref.run_with_cache(tl, cfg, tokens, dtype=torch.float32, names_filter=keep)  # noqa: E731
            tl_logits, tl_cache = tl_fwd()
            out["tl_einsum_vs_fused_logits_max_diff"] = float((tl_logits - logits).abs().max())
            assert len(tl_cache) == 3 * L
            del tl_logits, tl_cache
            med, _ = time_ms(tl_fwd, runs=max(3, args.runs // 2), warmup=1)
            out["gpt2_small_b8_p128_tl_einsum_ms"] = round(med, 1)
            log(f"gpt2-small b8 p128 (TL einsum reference): {med:.1f} ms")
        del params, cache, logits

        # --- (ii) 2-layer attention-only, d_model 64, 8 heads x 8, vocab 512, batch 32 x pos 64 ---
        L, D, H, K, V, C, B, P = 2, 64, 8, 8, 512, 64, 32, 64
        params = random_params(L, D, H, K, 0, V, C, ln=False, attn_only=True, seed=3)
        tokens = torch.randint(0, V, (B, P), generator=torch.Generator().manual_seed(4))
        fwd = lambda: forward_with_resid_cache(params, tokens, H, K, ln=False, attn_only=True)  # noqa: E731
        logits, cache = fwd()
        assert logits.shape == (B, P, V) and len(cache) == 2 * L
        med, ts = time_ms(fwd, runs=max(20, 10 * args.runs), warmup=5)
        out["attn_only_2l_b32_p64_min_ms"] = round(min(ts), 3)
        aflops = forward_flops(L, D, H, K, 0, V, B, P, attn_only=True)
        out["attn_only_2l_b32_p64_ms"] = round(med, 3)
        out["attn_only_2l_forward_gflop"] = round(aflops / 1e9, 4)
        out["attn_only_2l_effective_gflops"] = round(aflops / (med * 1e-3) / 1e9, 2)
        log(f"attn-only 2L b32 p64: {med:.3f} ms")

    # other processes share the CPU on a busy machine; record the load so noisy numbers are visible
    out["loadavg_1m_start_end"] = [load0, os.getloadavg()[0]]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
