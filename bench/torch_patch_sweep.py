"""PyTorch counterpart of patching/bench_test.go's BenchmarkHeadOutByPosGPT2Small: a per-head x position
activation-patching sweep done TransformerLens's way, one forward pass per patch.

    /usr/bin/python3 bench/torch_patch_sweep.py [--prompts 4] [--pos 16] [--max-patches N] [--style fused|tl]

TransformerLens's get_act_patch_attn_head_out_by_pos loops over (layer, pos, head) and runs
model.run_with_hooks(corrupted_tokens) with one hook that overwrites z[:, pos, head, :] of that layer with
the clean run's value, then scores the full logits. This script does exactly that on a GPT-2-small-shaped
random model (12 layers, 12 heads, d_model 768, d_mlp 3072, vocab 50257), batch = the prompts, denoising,
logit difference at the last position, under torch.no_grad() with torch.set_num_threads(os.cpu_count())
(--threads to change; compare with GOMAXPROCS=N on the Go side).

--style fused (default) uses an efficient eager forward (fused QKV addmm, batched attention, merged-head
W_O, F.layer_norm): a stronger baseline than TransformerLens itself. --style tl uses TransformerLens's
per-head einsums (q/k/v 'bpd,hdk->bphk', z @ W_O per head 'bphk,hkd->bpd').

Every patch costs one full forward of the same shape, so --max-patches N times N patches drawn at random
(seed 0) from the sweep and reports the measured time per patch and the extrapolated full-sweep time (marked as such);
without it every patch runs. --last-logits-only also times the same loop unembedding only the scored
position (what the Go engine does), to separate that saving from batching and prefix reuse.

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_forward import random_params  # noqa: E402


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def forward(p, tokens, H, K, patch=None, style="fused", last_only=False, record=None, eps=1e-5):
    """GPT-2 forward; patch = (layer, fn) calls fn(z) on z [B,P,H,K] of that layer (a hook_z hook);
    record, a dict, receives every layer's z. Returns logits [B,P,V] ([B,V] at the last position with
    last_only)."""
    B, P = tokens.shape
    D = p["W_E"].shape[1]
    N = B * P
    mask = torch.ones(P, P, dtype=torch.bool).triu(1)
    resid = p["W_E"][tokens] + p["W_pos"][:P]
    for i, b in enumerate(p["blocks"]):
        x = F.layer_norm(resid, (D,), b["ln1_w"], b["ln1_b"], eps)
        if style == "tl":
            q = torch.einsum("bpd,hdk->bphk", x, b["tl_W_Q"]) + b["tl_b_Q"]
            k = torch.einsum("bpd,hdk->bphk", x, b["tl_W_K"]) + b["tl_b_K"]
            v = torch.einsum("bpd,hdk->bphk", x, b["tl_W_V"]) + b["tl_b_V"]
            scores = torch.einsum("bqhk,bshk->bhqs", q, k) / math.sqrt(K)
            scores = scores.masked_fill(mask, float("-inf"))
            z = torch.einsum("bhqs,bshk->bqhk", torch.softmax(scores, dim=-1), v)  # [B,P,H,K]
            if patch is not None and patch[0] == i:
                z = patch[1](z)
            if record is not None:
                record[i] = z.clone()
            attn_out = torch.einsum("bphk,hkd->bpd", z, b["tl_W_O"]) + b["b_O"]
        else:
            qkv = torch.addmm(b["b_qkv"], x.reshape(N, D), b["W_qkv"]).view(B, P, 3, H, K).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]  # [B,H,P,K]
            scores = torch.matmul(q, k.transpose(-1, -2)).mul_(1.0 / math.sqrt(K)).masked_fill_(mask, float("-inf"))
            z = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2)  # [B,P,H,K]
            if patch is not None and patch[0] == i:
                z = patch[1](z)
            if record is not None:
                record[i] = z.clone()
            attn_out = torch.addmm(b["b_O"], z.reshape(N, H * K), b["W_O"]).view(B, P, D)
        resid = resid + attn_out
        x = F.layer_norm(resid, (D,), b["ln2_w"], b["ln2_b"], eps)
        h = F.gelu(torch.addmm(b["b_in"], x.reshape(N, D), b["W_in"]), approximate="tanh")
        resid = resid + torch.addmm(b["b_out"], h, b["W_out"]).view(B, P, D)
    if last_only:
        resid = resid[:, -1]
    x = F.layer_norm(resid, (D,), p["lnf_w"], p["lnf_b"], eps)
    return x @ p["W_E"].t()


def add_tl_layout(p, H, K):
    """Per-head weights for --style tl (W_Q [H,D,K], W_O [H,K,D]), views of the fused ones."""
    D = p["W_E"].shape[1]
    HK = H * K
    for b in p["blocks"]:
        for j, s in enumerate("QKV"):
            b[f"tl_W_{s}"] = b["W_qkv"][:, j * HK:(j + 1) * HK].reshape(D, H, K).permute(1, 0, 2).contiguous()
            b[f"tl_b_{s}"] = b["b_qkv"][j * HK:(j + 1) * HK].reshape(H, K)
        b["tl_W_O"] = b["W_O"].reshape(H, K, D)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--pos", type=int, default=16)
    ap.add_argument("--max-patches", type=int, default=0, help="time this many patches spread over the sweep (0: all)")
    ap.add_argument("--style", choices=["fused", "tl"], default="fused")
    ap.add_argument("--last-logits-only", action="store_true", help="also time the loop unembedding only the scored position")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: every CPU)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    L, D, H, K, M, V, C = 12, 768, 12, 64, 3072, 50257, 1024
    B, P = args.prompts, args.pos
    load0 = os.getloadavg()[0]
    with torch.no_grad():
        params = random_params(L, D, H, K, M, V, C, seed=0)
        add_tl_layout(params, H, K)
        g = torch.Generator().manual_seed(1)
        clean = torch.randint(0, V, (B, P), generator=g)
        corrupted = clean.clone()
        corrupted[:, 2] = torch.randint(0, V, (B,), generator=g)
        answer, wrong = torch.randint(0, V, (B,), generator=g), torch.randint(0, V, (B,), generator=g)

        def logit_diff(logits):
            last = logits[:, -1] if logits.dim() == 3 else logits
            return (last.gather(1, answer[:, None]) - last.gather(1, wrong[:, None])).mean().item()

        t0 = time.perf_counter()
        clean_cache = {}  # run_with_cache of the clean prompts: every layer's hook_z
        forward(params, clean, H, K, style=args.style, record=clean_cache)
        setup_s = time.perf_counter() - t0
        base = logit_diff(forward(params, corrupted, H, K, style=args.style))

        patches = [(layer, pos, head) for layer in range(L) for pos in range(P) for head in range(H)]
        chosen = patches
        if args.max_patches and args.max_patches < len(patches):
            chosen = sorted(random.Random(0).sample(patches, args.max_patches))

        def run_loop(last_only):
            scores = []
            t = time.perf_counter()
            for layer, pos, head in chosen:
                def hook(z, pos=pos, head=head, layer=layer):
                    z = z.clone()
                    z[:, pos, head, :] = clean_cache[layer][:, pos, head, :]
                    return z
                scores.append(logit_diff(forward(params, corrupted, H, K, patch=(layer, hook), style=args.style, last_only=last_only)))
            return time.perf_counter() - t, scores

        forward(params, corrupted, H, K, style=args.style)  # warm-up
        log(f"timing {len(chosen)} of {len(patches)} patches ({args.style}) ...")
        loop_s, scores = run_loop(False)
        per_patch = loop_s / len(chosen)
        out = {
            "torch_version": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
            "style": args.style, "model": "GPT-2-small shape, random weights (12 layers, 12 heads, d_model 768, vocab 50257)",
            "prompts": B, "pos": P, "patches_total": len(patches), "patches_timed": len(chosen),
            "per_patch_ms": round(per_patch * 1e3, 2), "setup_clean_run_s": round(setup_s, 3),
            "sweep_s": round(loop_s + setup_s, 2) if len(chosen) == len(patches) else None,
            "sweep_s_extrapolated": round(per_patch * len(patches) + setup_s, 2),
            "baseline_logit_diff": base, "score_range": [min(scores), max(scores)],
        }
        if args.last_logits_only:
            loop2, _ = run_loop(True)
            out["per_patch_last_logits_only_ms"] = round(loop2 / len(chosen) * 1e3, 2)
            out["sweep_last_logits_only_s_extrapolated"] = round(loop2 / len(chosen) * len(patches) + setup_s, 2)
        out["loadavg_1m_start_end"] = [load0, os.getloadavg()[0]]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
