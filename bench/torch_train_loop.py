"""PyTorch eager reference for BenchmarkTrainStep (train/bench_test.go).

    /usr/bin/python3 bench/torch_train_loop.py [--steps N]

One AdamW training step of the 2-layer attention-only model of the induction-head studies (the
model of bench/torch_train_step.py: d_model 64, 8 heads x d_head 8, vocab 64, n_ctx 64, learned
positions, no LayerNorm, separate unembedding), batch 32 x pos 64, as train.Run does it: forward,
next-token cross-entropy over all positions, backward through every weight, global-norm gradient
clipping at 1, AdamW (betas 0.9/0.99, weight decay 0.01 on the W_* matrices only) at a
scheduled learning rate. Then the same step for the natural-text study's model (BenchmarkTrainStepText:
LayerNorm before each attention layer and the unembedding, d_model 128, 4 heads, vocab 4096, n_ctx
512, batch 8 x 512). Prints one JSON object: best and median ms per step over N steps (N / 3,
at least 5, for the text model).
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train_step import AttnOnly  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    out = {"torch_version": torch.__version__, "threads": torch.get_num_threads(), "steps": args.steps}
    for name, kw, batch, pos, steps in (
            ("attn_only_2l", {}, 32, 64, args.steps),
            ("text_2l", {"d": 128, "heads": 4, "vocab": 4096, "n_ctx": 512, "ln": True}, 8, 512, max(5, args.steps // 3))):
        med, best = time_steps(kw, batch, pos, args.warmup, steps)
        out[f"adamw_step_{name}_median_ms"], out[f"adamw_step_{name}_min_ms"] = med, best
    print(json.dumps(out))


def time_steps(kw, batch, pos, warmup, steps):
    torch.manual_seed(0)
    model = AttnOnly(**kw)
    vocab = model.W_U.shape[1]
    decay = [p for n, p in model.named_parameters() if n.split(".")[-1].startswith("W_")]
    no_decay = [p for n, p in model.named_parameters() if not n.split(".")[-1].startswith("W_")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99), eps=1e-8)
    tokens = torch.randint(0, vocab, (batch, pos))

    def step(i):
        for g in opt.param_groups:  # the schedule's value is set per step, as train.Run feeds it
            g["lr"] = 1e-3 * min(1.0, (i + 1) / 100)
        opt.zero_grad(set_to_none=True)
        logits = model(tokens)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, vocab), tokens[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for i in range(warmup):
        step(i)
    ts = []
    for i in range(steps):
        t0 = time.perf_counter()
        step(i)
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts), min(ts)


if __name__ == "__main__":
    main()
