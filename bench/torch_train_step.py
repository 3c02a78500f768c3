"""PyTorch eager reference for BenchmarkTrainStepAttnOnly2L and BenchmarkSoftmax (model/bench_test.go).

    /usr/bin/python3 bench/torch_train_step.py [--steps N]

One SGD step of the 2-layer attention-only model of the induction-head studies (d_model 64, 8 heads
x d_head 8, vocab 64, n_ctx 64, learned positions, no LayerNorm, separate unembedding), batch 32 x
pos 64: forward, next-token cross-entropy over all positions, backward through every weight, update.
Also a softmax over the last axis of a [32, 8, 64, 64] tensor, and causal attention of that shape
(q, k, v [32, 64, 8, 8] as the model lays them out: scores q k^T scaled and masked, softmax,
pattern v; fastcpu's BenchmarkAttention). Prints one JSON object (median ms).
"""
import argparse
import json
import math
import os
import statistics
import time

import torch
import torch.nn.functional as F


class AttnOnly(torch.nn.Module):
    def __init__(self, layers=2, d=64, heads=8, vocab=64, n_ctx=64, ln=False):
        super().__init__()
        k = d // heads
        # ln: a LayerNorm before each attention layer and before the unembedding (GPT-2 layout)
        self.lns = torch.nn.ModuleList([torch.nn.LayerNorm(d, eps=1e-5) for _ in range(layers + 1)]) if ln else None
        self.W_E = torch.nn.Parameter(torch.randn(vocab, d) * 0.02)
        self.W_pos = torch.nn.Parameter(torch.randn(n_ctx, d) * 0.01)
        self.layers = torch.nn.ModuleList()
        for _ in range(layers):
            m = torch.nn.Module()
            m.W_Q = torch.nn.Parameter(torch.randn(heads, d, k) * 0.02)
            m.W_K = torch.nn.Parameter(torch.randn(heads, d, k) * 0.02)
            m.W_V = torch.nn.Parameter(torch.randn(heads, d, k) * 0.02)
            m.W_O = torch.nn.Parameter(torch.randn(heads, k, d) * 0.02)
            m.b_Q = torch.nn.Parameter(torch.zeros(heads, k))
            m.b_K = torch.nn.Parameter(torch.zeros(heads, k))
            m.b_V = torch.nn.Parameter(torch.zeros(heads, k))
            m.b_O = torch.nn.Parameter(torch.zeros(d))
            self.layers.append(m)
        self.W_U = torch.nn.Parameter(torch.randn(d, vocab) * 0.02)
        self.k = k

    def forward(self, tokens):
        B, P = tokens.shape
        x = self.W_E[tokens] + self.W_pos[:P]
        mask = torch.full((P, P), float("-inf")).triu(1)
        for i, m in enumerate(self.layers):
            h = self.lns[i](x) if self.lns is not None else x
            q = torch.einsum("bpd,hdk->bphk", h, m.W_Q) + m.b_Q
            k = torch.einsum("bpd,hdk->bphk", h, m.W_K) + m.b_K
            v = torch.einsum("bpd,hdk->bphk", h, m.W_V) + m.b_V
            scores = torch.einsum("bqhk,bshk->bhqs", q, k) / math.sqrt(self.k) + mask
            pattern = scores.softmax(-1)
            z = torch.einsum("bhqs,bshk->bqhk", pattern, v)
            x = x + torch.einsum("bphk,hkd->bpd", z, m.W_O) + m.b_O
        if self.lns is not None:
            x = self.lns[-1](x)
        return x @ self.W_U


def median_ms(fn, runs, warmup=3):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts), min(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    model = AttnOnly()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    tokens = torch.randint(0, 64, (32, 64))

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(tokens)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, 64), tokens[:, 1:].reshape(-1))
        loss.backward()
        opt.step()

    x = torch.randn(32, 8, 64, 64)

    def softmax():
        with torch.no_grad():
            x.softmax(-1)

    q, k, v = (torch.randn(32, 64, 8, 8) for _ in range(3))
    mask = torch.ones(64, 64, dtype=torch.bool).triu(1)

    def attention():
        with torch.no_grad():
            qh, kh, vh = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, H, P, K]
            scores = torch.matmul(qh, kh.transpose(-1, -2)).mul_(0.35).masked_fill_(mask, float("-inf"))
            torch.matmul(scores.softmax(-1), vh)

    qg, kg, vg = (t.clone().requires_grad_(True) for t in (q, k, v))
    wz = torch.randn(32, 64, 8, 8)

    def attention_grad():
        # The same attention, forward and backward to q, k and v through sum(z w), z in [B, P, H, K]
        # (fastcpu's BenchmarkAttentionGrad).
        qh, kh, vh = qg.transpose(1, 2), kg.transpose(1, 2), vg.transpose(1, 2)
        scores = torch.matmul(qh, kh.transpose(-1, -2)).mul(0.35).masked_fill(mask, float("-inf"))
        z = torch.matmul(scores.softmax(-1), vh).transpose(1, 2)
        torch.autograd.grad((z * wz).sum(), (qg, kg, vg))

    step_med, step_min = median_ms(step, args.steps)
    sm_med, sm_min = median_ms(softmax, 100)
    at_med, at_min = median_ms(attention, 100)
    ag_med, ag_min = median_ms(attention_grad, 50)
    print(json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads(),
                      "train_step_attn_only_2l_ms": step_med, "train_step_attn_only_2l_min_ms": step_min,
                      "softmax_32x8x64x64_ms": sm_med, "softmax_32x8x64x64_min_ms": sm_min,
                      "attention_32x64x8x8_ms": at_med, "attention_32x64x8x8_min_ms": at_min,
                      "attention_grad_32x64x8x8_ms": ag_med, "attention_grad_32x64x8x8_min_ms": ag_min}))


if __name__ == "__main__":
    main()
