"""PyTorch eager reference for BenchmarkTrainStep (transcoder/bench_test.go): transcoder training
throughput.

    /usr/bin/python3 bench/torch_transcoder_train.py [--steps N] [--d 64,768] [--threads 2]

One training step per batch of 4096 rows, as SAELens trains its transcoders: encode the input
(x W_enc + b_enc, no b_dec subtraction), the activation (ReLU; TopK k 32 via torch.topk), decode
(f W_dec + b_dec, plus x W_skip^T for skip transcoders), the loss against a separate target
(summed squared error averaged over rows, plus the L1 penalty scaled by decoder norms for ReLU),
backward and torch.optim.Adam. TopK keeps unit-norm decoder rows (gradient projected, rows
renormalised), as the Go benchmark does. Expansion 8. The batch is fixed, as in the Go benchmark.
Prints one JSON line per configuration: median and best step time and rows/s.
"""
import argparse
import json
import statistics
import time

import torch


def make_step(arch, d, d_sae, k, skip):
    w_dec = torch.randn(d_sae, d)
    w_dec = w_dec / w_dec.norm(dim=1, keepdim=True) * (1.0 if arch == "topk" else 0.1)
    p = {
        "W_enc": torch.nn.Parameter(w_dec.T.clone().contiguous()),
        "b_enc": torch.nn.Parameter(torch.zeros(d_sae)),
        "W_dec": torch.nn.Parameter(w_dec.clone()),
        "b_dec": torch.nn.Parameter(torch.zeros(d)),
    }
    if skip:
        p["W_skip"] = torch.nn.Parameter(torch.zeros(d, d))
    opt = torch.optim.Adam(list(p.values()), lr=1e-4)
    unit = arch == "topk"

    def step(x, y):
        pre = x @ p["W_enc"] + p["b_enc"]
        if arch == "relu":
            f = pre.relu()
        else:
            v, i = torch.topk(pre, k, dim=-1)
            f = torch.zeros_like(pre).scatter(-1, i, v.relu())
        recon = f @ p["W_dec"] + p["b_dec"]
        if skip:
            recon = recon + x @ p["W_skip"].T
        loss = (recon - y).pow(2).sum(-1).mean()
        if arch == "relu":
            loss = loss + (1e-3 * (f * p["W_dec"].norm(dim=1)).norm(p=1, dim=-1)).mean()
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
    ap.add_argument("--d", default="64,768")
    ap.add_argument("--archs", default="relu,topk")
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for d in [int(v) for v in args.d.split(",")]:
        for arch in args.archs.split(","):
            for skip in (False, True):
                x, y = torch.randn(args.batch, d), torch.randn(args.batch, d)
                step = make_step(arch, d, 8 * d, 32, skip)
                step(x, y)  # warm-up
                times = []
                for _ in range(args.steps):
                    t0 = time.perf_counter()
                    step(x, y)
                    times.append(time.perf_counter() - t0)
                med, best = statistics.median(times), min(times)
                print(json.dumps({"arch": arch, "d": d, "d_sae": 8 * d, "skip": skip, "batch": args.batch,
                                  "threads": args.threads, "median_ms": round(med * 1e3, 2), "best_ms": round(best * 1e3, 2),
                                  "rows_per_s_median": round(args.batch / med), "rows_per_s_best": round(args.batch / best),
                                  "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
