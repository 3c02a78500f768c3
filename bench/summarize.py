"""Side-by-side table of one bench/run.sh run: PyTorch against interp, the same workloads.

    /usr/bin/python3 bench/summarize.py bench/results STAMP

Reads the files bench/run.sh wrote with that stamp (torch-*-STAMP.json, go-BACKEND-STAMP.txt) and
prints a Markdown table: workload, PyTorch (best / median where the script reports both), interp,
and the ratio interp / PyTorch's best for times (below 1 is faster), or interp / PyTorch for
throughputs (above 1 is faster). Rows whose inputs are missing are left out.
"""
import glob
import json
import os
import re
import sys


def read_json_lines(path):
    out = []
    if not os.path.exists(path):
        return out
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def read_go(path):
    """Benchmark name (without the -N GOMAXPROCS suffix) -> {unit: value}."""
    res = {}
    for line in open(path):
        if not line.startswith("Benchmark"):
            continue
        f = line.split()
        name = re.sub(r"-\d+$", "", f[0])
        vals = {}
        for i in range(2, len(f) - 1, 2):
            try:
                vals[f[i + 1]] = float(f[i])
            except ValueError:
                pass
        res[name] = vals
    return res


def main():
    d, stamp = sys.argv[1], sys.argv[2]
    fwd = (read_json_lines(f"{d}/torch-{stamp}.json") or [{}])[0]
    step = (read_json_lines(f"{d}/torch-train-{stamp}.json") or [{}])[0]
    loop = (read_json_lines(f"{d}/torch-train-loop-{stamp}.json") or [{}])[0]
    patch = (read_json_lines(f"{d}/torch-patch-{stamp}.json") or [{}])[0]
    sae = read_json_lines(f"{d}/torch-sae-{stamp}.json")
    tc = read_json_lines(f"{d}/torch-transcoder-{stamp}.json")
    pipe = read_json_lines(f"{d}/torch-pipeline-{stamp}.json")
    for gofile in sorted(glob.glob(f"{d}/go-*-{stamp}.txt")):
        backend = gofile.split("/go-")[-1].split(f"-{stamp}")[0]
        go = read_go(gofile)
        rows = []

        def time_row(label, best, median, gname, unit, scale=1.0):
            g = go.get(gname, {}).get(unit)
            if g is None or best is None:
                return
            g *= scale
            med = f" / {median:.1f}" if median is not None else ""
            rows.append(f"| {label} | {best:.1f}{med} ms | {g:.1f} ms | {g / best:.2f}x PyTorch's best (time) |")

        def rate_row(label, torch_rate, gname, unit="rows/s"):
            g = go.get(gname, {}).get(unit)
            if g is None or not torch_rate:
                return
            rows.append(f"| {label} | {torch_rate / 1e3:.1f}k rows/s | {g / 1e3:.1f}k rows/s | {g / torch_rate:.2f}x PyTorch (throughput) |")

        time_row("GPT-2-small forward, batch 8 x pos 128", fwd.get("gpt2_small_b8_p128_min_ms"), fwd.get("gpt2_small_b8_p128_ms"),
                 "BenchmarkForwardGPT2Small", "ms/forward")
        time_row("2-layer attention-only forward, batch 32 x pos 64", fwd.get("attn_only_2l_b32_p64_min_ms"),
                 fwd.get("attn_only_2l_b32_p64_ms"), "BenchmarkForwardAttnOnly2L", "ms/forward")
        time_row("softmax [32,8,64,64]", step.get("softmax_32x8x64x64_min_ms"), step.get("softmax_32x8x64x64_ms"),
                 "BenchmarkSoftmax", "ms")
        time_row("causal attention, q/k/v [32,64,8,8] (fastcpu: fused)", step.get("attention_32x64x8x8_min_ms"),
                 step.get("attention_32x64x8x8_ms"), "BenchmarkAttention/fused", "ns/op", 1e-6)
        time_row("causal attention forward + backward to q, k, v (fastcpu: fused)", step.get("attention_grad_32x64x8x8_min_ms"),
                 step.get("attention_grad_32x64x8x8_ms"), "BenchmarkAttentionGrad/fused", "ns/op", 1e-6)
        time_row("2-layer attention-only SGD step", step.get("train_step_attn_only_2l_min_ms"),
                 step.get("train_step_attn_only_2l_ms"), "BenchmarkTrainStepAttnOnly2L", "ms/step")
        time_row("2-layer attention-only AdamW step (interp train)", loop.get("adamw_step_attn_only_2l_min_ms"),
                 loop.get("adamw_step_attn_only_2l_median_ms"), "BenchmarkTrainStep", "ms/step")
        time_row("text-study 2-layer attention-only AdamW step, LayerNorm, vocab 4096, batch 8 x pos 512",
                 loop.get("adamw_step_text_2l_min_ms"), loop.get("adamw_step_text_2l_median_ms"),
                 "BenchmarkTrainStepText", "ms/step")
        if patch:
            # the PyTorch script times a sample of the patches and extrapolates (marked as such)
            key = next((k for k in ("sweep_last_logits_only_s", "sweep_last_logits_only_s_extrapolated", "sweep_s", "sweep_s_extrapolated")
                        if patch.get(k) is not None), None)
            g = go.get("BenchmarkHeadOutByPosGPT2Small", {}).get("s/sweep")
            if key and g:
                rows.append(f"| GPT-2-small head x position patching sweep | {patch[key]:.0f} s ({key}) | {g:.0f} s | {g / patch[key]:.2f}x PyTorch (time) |")
        for r in sae:
            rate_row(f"SAE step {r['arch']} d_in {r['d_in']}", r.get("rows_per_s_best"), f"BenchmarkTrainStep/{r['arch']}/d{r['d_in']}")
        for r in tc:
            name = f"BenchmarkTrainStep/{r['arch']}/d{r['d']}/skip={'true' if r.get('skip') else 'false'}"
            rate_row(f"transcoder step {r['arch']}{' skip' if r.get('skip') else ''} d {r['d']}", r.get("rows_per_s_best"), name)
        for r in pipe:
            for mode in ("prefetch", "serial"):
                rate_row(f"SAE training end to end, {r['config']} ({mode})", r.get("rows_per_s"), f"BenchmarkPipeline/{r['config']}/{mode}")
        print(f"\n## {backend} against PyTorch (run {stamp})\n")
        print("| workload | PyTorch best / median | interp | ratio |")
        print("|---|---|---|---|")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
