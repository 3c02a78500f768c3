"""PyTorch eager reference for BenchmarkPipeline (sae/bench_pipeline_test.go): SAE training end to end.

    /usr/bin/python3 bench/torch_sae_pipeline.py [--steps 8] [--threads 2]

The loop of SAELens's training, one thing after another: random token batches (32 sequences)
run through the model as far as the hook (no unembedding, under torch.no_grad()), their rows go
into a shuffling buffer of 32768 rows that is shuffled and half served whenever the rows ready run
short of a batch, and a ReLU SAE (expansion 8; encode (x - b_dec) W_enc + b_enc, decode, summed
squared error averaged over rows plus the L1 penalty scaled by decoder norms, torch.optim.Adam)
takes one step per 4096 rows. Two models, random weights (bench/torch_forward.py's layout):

  attn2l-d64     2-layer attention-only, d_model 64, 8 heads, vocab 512, 64 positions,
                 hook blocks.1.hook_resid_post
  gpt2-L2-d768   GPT-2-small-shaped, 128 positions, hook blocks.2.hook_resid_pre (two layers run)

The first step (buffer fill) is a warm-up; --steps more are timed (use a multiple of 4: every 4
steps take one refill). Prints one JSON line per model: rows/s (one row per token) and ms/step.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_forward import random_params  # noqa: E402
from torch_sae_train import make_step  # noqa: E402

CONFIGS = {
    # name: (layers, d_model, heads, d_head, d_mlp, vocab, n_ctx, ln, attn_only, layers run, positions)
    "attn2l-d64": (2, 64, 8, 8, 0, 512, 64, False, True, 2, 64),
    "gpt2-L2-d768": (12, 768, 12, 64, 3072, 50257, 1024, True, False, 2, 128),
}


def forward_to(p, tokens, H, K, upto, ln, attn_only, eps=1e-5):
    """The residual stream after `upto` blocks (TransformerLens semantics), i.e.
    blocks.{upto}.hook_resid_pre = blocks.{upto-1}.hook_resid_post."""
    B, P = tokens.shape
    D = p["W_E"].shape[1]
    N = B * P
    mask = torch.ones(P, P, dtype=torch.bool).triu(1)
    resid = p["W_E"][tokens] + p["W_pos"][:P]
    for b in p["blocks"][:upto]:
        x = F.layer_norm(resid, (D,), b["ln1_w"], b["ln1_b"], eps) if ln else resid
        qkv = torch.addmm(b["b_qkv"], x.reshape(N, D), b["W_qkv"]).view(B, P, 3, H, K).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = torch.matmul(q, k.transpose(-1, -2)).mul_(1.0 / math.sqrt(K)).masked_fill_(mask, float("-inf"))
        z = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(N, H * K)
        resid = resid + torch.addmm(b["b_O"], z, b["W_O"]).view(B, P, D)
        if not attn_only:
            x = F.layer_norm(resid, (D,), b["ln2_w"], b["ln2_b"], eps) if ln else resid
            h = F.gelu(torch.addmm(b["b_in"], x.reshape(N, D), b["W_in"]), approximate="tanh")
            resid = resid + torch.addmm(b["b_out"], h, b["W_out"]).view(B, P, D)
    return resid


class Store:
    """SAELens-style activation store: fill the buffer, shuffle, serve half."""

    def __init__(self, run, buffer_rows, d):
        self.run, self.buffer_rows = run, buffer_rows
        self.buf = torch.empty(0, d)
        self.ready = torch.empty(0, d)

    def next(self, n):
        while self.ready.shape[0] < n:
            parts = [self.buf]
            rows = self.buf.shape[0]
            while rows < self.buffer_rows:
                a = self.run()
                parts.append(a)
                rows += a.shape[0]
            buf = torch.cat(parts)
            perm = torch.randperm(buf.shape[0])
            half = buf.shape[0] // 2
            self.ready = torch.cat([self.ready, buf[perm[:half]]])
            self.buf = buf[perm[half:]]
        x, self.ready = self.ready[:n], self.ready[n:]
        return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batch, seqs = 4096, 32
    for name in args.configs.split(","):
        L, D, H, K, M, V, C, ln, attn_only, upto, pos = CONFIGS[name]
        p = random_params(L, D, H, K, M, V, C, ln=ln, attn_only=attn_only)
        gen = torch.Generator().manual_seed(1)

        def run():
            tokens = torch.randint(0, V, (seqs, pos), generator=gen)
            with torch.no_grad():
                return forward_to(p, tokens, H, K, upto, ln, attn_only).reshape(-1, D)

        store = Store(run, 1 << 15, D)
        step = make_step("relu", D, 8 * D, 32)
        step(store.next(batch))  # warm-up: fills the buffer
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step(store.next(batch))
        sec = time.perf_counter() - t0
        print(json.dumps({"config": name, "d_in": D, "d_sae": 8 * D, "batch": batch, "steps": args.steps,
                          "threads": args.threads, "ms_per_step": round(sec * 1e3 / args.steps, 1),
                          "rows_per_s": round(batch * args.steps / sec), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
