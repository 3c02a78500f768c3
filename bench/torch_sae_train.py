"""PyTorch eager reference for BenchmarkTrainStep (sae/bench_test.go): SAE training throughput.

    /usr/bin/python3 bench/torch_sae_train.py [--steps N] [--d-in 64,768] [--threads 2]

One training step per batch of 4096 rows, as SAELens trains them: encode
((x - b_dec) W_enc + b_enc), the architecture's activation (ReLU; TopK with k 32 via
torch.topk; BatchTopK keeping the 32*N largest ReLU'd activations of the batch; JumpReLU with
the straight-through threshold gradient of a custom autograd function), decode, the loss
(summed squared error averaged over rows, plus the L1 penalty scaled by decoder norms for ReLU
or the L0 penalty for JumpReLU), backward, and torch.optim.Adam. TopK and BatchTopK keep unit-
norm decoder rows (gradient projected, rows renormalised), as the Go benchmark does. Expansion 8
(d_sae = 8 d_in). The batch is fixed, as in the Go benchmark. Prints one JSON line per
architecture and size: median and best step time and rows/s.
"""
import argparse
import json
import statistics
import time

import torch


def rectangle(x):
    return ((x > -0.5) & (x < 0.5)).to(x)


class JumpReLUFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, threshold, bandwidth):
        ctx.save_for_backward(x, threshold)
        ctx.bandwidth = bandwidth
        return x * (x > threshold)

    @staticmethod
    def backward(ctx, g):
        x, threshold = ctx.saved_tensors
        bw = ctx.bandwidth
        return (x > threshold) * g, torch.sum(-(threshold / bw) * rectangle((x - threshold) / bw) * g, dim=0), None


class StepFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, threshold, bandwidth):
        ctx.save_for_backward(x, threshold)
        ctx.bandwidth = bandwidth
        return (x > threshold).to(x)

    @staticmethod
    def backward(ctx, g):
        x, threshold = ctx.saved_tensors
        bw = ctx.bandwidth
        return None, torch.sum(-(1.0 / bw) * rectangle((x - threshold) / bw) * g, dim=0), None


def make_step(arch, d_in, d_sae, k):
    w_dec = torch.randn(d_sae, d_in)
    w_dec = w_dec / w_dec.norm(dim=1, keepdim=True) * (1.0 if arch in ("topk", "batchtopk") else 0.1)
    p = {
        "W_enc": torch.nn.Parameter(w_dec.T.clone().contiguous()),
        "b_enc": torch.nn.Parameter(torch.zeros(d_sae)),
        "W_dec": torch.nn.Parameter(w_dec.clone()),
        "b_dec": torch.nn.Parameter(torch.zeros(d_in)),
    }
    if arch == "jumprelu":
        p["threshold"] = torch.nn.Parameter(torch.full((d_sae,), 0.01))
    opt = torch.optim.Adam(list(p.values()), lr=1e-4)
    unit = arch in ("topk", "batchtopk")

    def step(x):
        pre = (x - p["b_dec"]) @ p["W_enc"] + p["b_enc"]
        if arch == "relu":
            f = pre.relu()
        elif arch == "topk":
            v, i = torch.topk(pre, k, dim=-1)
            f = torch.zeros_like(pre).scatter(-1, i, v.relu())
        elif arch == "batchtopk":
            acts = pre.relu().flatten()
            v, i = torch.topk(acts, k * x.shape[0])
            f = torch.zeros_like(acts).scatter(-1, i, v).reshape(pre.shape)
        else:
            f = JumpReLUFn.apply(pre, p["threshold"].relu(), 0.05)
        recon = f @ p["W_dec"] + p["b_dec"]
        loss = (recon - x).pow(2).sum(-1).mean()
        if arch == "relu":
            loss = loss + (1e-3 * (f * p["W_dec"].norm(dim=1)).norm(p=1, dim=-1)).mean()
        elif arch == "jumprelu":
            loss = loss + (1e-3 * StepFn.apply(pre, p["threshold"].relu(), 0.05).sum(-1)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if unit:
            with torch.no_grad():
                wn = p["W_dec"] / p["W_dec"].norm(dim=1, keepdim=True)
                p["W_dec"].grad -= (p["W_dec"].grad * wn).sum(dim=1, keepdim=True) * wn
        opt.step()
        if unit:
            with torch.no_grad():
                p["W_dec"].data /= p["W_dec"].data.norm(dim=1, keepdim=True)

    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--d-in", default="64,768")
    ap.add_argument("--archs", default="relu,topk,batchtopk,jumprelu")
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for d_in in [int(d) for d in args.d_in.split(",")]:
        for arch in args.archs.split(","):
            x = torch.randn(args.batch, d_in)
            step = make_step(arch, d_in, 8 * d_in, 32)
            step(x)  # warm-up
            times = []
            for _ in range(args.steps):
                t0 = time.perf_counter()
                step(x)
                times.append(time.perf_counter() - t0)
            med, best = statistics.median(times), min(times)
            print(json.dumps({"arch": arch, "d_in": d_in, "d_sae": 8 * d_in, "batch": args.batch, "threads": args.threads,
                              "median_ms": round(med * 1e3, 2), "best_ms": round(best * 1e3, 2),
                              "rows_per_s_median": round(args.batch / med), "rows_per_s_best": round(args.batch / best),
                              "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
