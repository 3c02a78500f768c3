"""PyTorch CPU reference for the generation benchmarks of docs/PERFORMANCE.md (issue 20).

    /usr/bin/python3 bench/torch_generate.py gpt2|qwen [--runs N]

Greedy decoding of 128 tokens from a 32-token prompt, batch 1, on a random model of GPT-2 small's
shape (12 layers, d_model 768, 12 heads, d_mlp 3072, vocab 50257, learned positions, LayerNorm,
gelu_new, tied) or Qwen2.5-0.5B's (24 layers, d_model 896, 14 heads / 2 key-value heads of 64,
SwiGLU 4864, vocab 151936, tied, q/k/v biases, rope theta 1e6), under torch.no_grad():

  cached:   one prefill of the prompt, then one position per token, keys and values appended to a
            per-layer cache (torch.cat, as Hugging Face's DynamicCache does);
  uncached: every token recomputes the whole sequence so far.

Both unembed only the last position, as interp's generation does. Prints one JSON object:
tokens/s for each mode and thread count: cached, the median and best of --runs runs after a warm-up;
uncached, one run (it takes minutes).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = {
    "gpt2": dict(L=12, D=768, H=12, Hkv=12, K=64, M=3072, V=50257, qwen=False),
    "qwen": dict(L=24, D=896, H=14, Hkv=2, K=64, M=4864, V=151936, qwen=True),
}
PROMPT, NEW = 32, 128


def build(name):
    s = SHAPES[name]
    L, D, H, Hkv, K, M, V = s["L"], s["D"], s["H"], s["Hkv"], s["K"], s["M"], s["V"]
    torch.manual_seed(0)
    r = lambda *sh: torch.randn(*sh) * 0.02
    W = dict(E=r(V, D), pos=r(1024, D), lnf=torch.ones(D), lnfb=torch.zeros(D), layers=[])
    for _ in range(L):
        w = dict(q=r(H * K, D), k=r(Hkv * K, D), v=r(Hkv * K, D), o=r(D, H * K), ln1=torch.ones(D), ln2=torch.ones(D))
        if s["qwen"]:
            w.update(qb=r(H * K), kb=r(Hkv * K), vb=r(Hkv * K), gate=r(M, D), up=r(M, D), down=r(D, M))
        else:
            w.update(qb=r(H * K), kb=r(H * K), vb=r(H * K), ob=r(D), fc=r(M, D), fcb=r(M), proj=r(D, M), projb=r(D),
                     ln1b=torch.zeros(D), ln2b=torch.zeros(D))
        W["layers"].append(w)
    return s, W


def rope(x, pos, K, theta=1e6):  # x [B, H, P, K], pos [P]
    inv = 1.0 / (theta ** (torch.arange(0, K, 2, dtype=torch.float32) / K))
    ang = pos[:, None].float() * inv[None, :]
    emb = torch.cat([ang, ang], -1)
    cos, sin = emb.cos(), emb.sin()
    x1, x2 = x[..., : K // 2], x[..., K // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def forward(s, W, tokens, start, cache):
    """tokens [1, P] at positions start..start+P-1; cache: per layer [k, v] ([1, Hkv, T, K]) or None.
    Returns the last position's logits [1, V]."""
    D, H, Hkv, K = s["D"], s["H"], s["Hkv"], s["K"]
    B, P = tokens.shape
    pos = torch.arange(start, start + P)
    h = W["E"][tokens]
    if not s["qwen"]:
        h = h + W["pos"][pos][None]
    T = start + P
    mask = None
    if P > 1:
        mask = torch.full((P, T), float("-inf")).triu(start + 1)
    for l, w in enumerate(W["layers"]):
        if s["qwen"]:
            x = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6) * w["ln1"]
        else:
            x = F.layer_norm(h, (D,), w["ln1"], w["ln1b"], 1e-5)
        q = F.linear(x, w["q"], w["qb"]).view(B, P, H, K).transpose(1, 2)
        k = F.linear(x, w["k"], w["kb"]).view(B, P, Hkv, K).transpose(1, 2)
        v = F.linear(x, w["v"], w["vb"]).view(B, P, Hkv, K).transpose(1, 2)
        if s["qwen"]:
            q, k = rope(q, pos, K), rope(k, pos, K)
        if cache is not None:
            if cache[l] is not None:
                k, v = torch.cat([cache[l][0], k], 2), torch.cat([cache[l][1], v], 2)
            cache[l] = (k, v)
        if Hkv != H:
            k, v = k.repeat_interleave(H // Hkv, 1), v.repeat_interleave(H // Hkv, 1)
        sc = q @ k.transpose(-1, -2) / math.sqrt(K)
        if mask is not None:
            sc = sc + mask
        z = (torch.softmax(sc, -1) @ v).transpose(1, 2).reshape(B, P, H * K)
        a = F.linear(z, w["o"], w.get("ob"))
        h = h + a
        if s["qwen"]:
            x = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6) * w["ln2"]
            h = h + F.linear(F.silu(F.linear(x, w["gate"])) * F.linear(x, w["up"]), w["down"])
        else:
            x = F.layer_norm(h, (D,), w["ln2"], w["ln2b"], 1e-5)
            u = F.linear(x, w["fc"], w["fcb"])
            u = F.gelu(u, approximate="tanh")  # gelu_new, fused (torch.tanh on a small tensor is slow in this build)
            h = h + F.linear(u, w["proj"], w["projb"])
    x = h[:, -1]
    if s["qwen"]:
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * W["lnf"]
    else:
        x = F.layer_norm(x, (D,), W["lnf"], W["lnfb"], 1e-5)
    return x @ W["E"].T


def generate(s, W, prompt, cached):
    seq = prompt.clone()
    cache = [None] * s["L"] if cached else None
    logits = forward(s, W, seq, 0, cache)
    out = []
    for i in range(NEW):
        nxt = logits.argmax(-1, keepdim=True)
        out.append(int(nxt))
        if i == NEW - 1:
            break
        seq = torch.cat([seq, nxt], 1)
        logits = forward(s, W, nxt, seq.shape[1] - 1, cache) if cached else forward(s, W, seq, 0, None)
    return out


def main(name, runs):
    s, W = build(name)
    prompt = torch.tensor([[(i * 7919 + 13) % s["V"] for i in range(PROMPT)]])
    res = {"model": name, "prompt": PROMPT, "new": NEW, "runs": runs, "torch": torch.__version__}
    with torch.no_grad():
        # Batch-1 decoding is a chain of thin matmuls; in this build two threads are slower than
        # one, so both are measured and the comparison takes the better.
        for threads in sorted({1, os.cpu_count()}):
            torch.set_num_threads(threads)
            for mode in ("cached", "uncached"):
                toks = generate(s, W, prompt, mode == "cached") if mode == "cached" else None  # warm-up
                times = []
                for _ in range(runs if mode == "cached" else 1):  # uncached: one run (minutes)
                    t0 = time.perf_counter()
                    again = generate(s, W, prompt, mode == "cached")
                    times.append(time.perf_counter() - t0)
                    assert toks is None or again == toks
                res[f"{mode}_tokens_per_s_{threads}t"] = NEW / statistics.median(times)
                res[f"{mode}_best_tokens_per_s_{threads}t"] = NEW / min(times)
        res["cached_equals_uncached"] = again == generate(s, W, prompt, True)
    print(json.dumps(res))


if __name__ == "__main__":
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    main(sys.argv[1], runs)
