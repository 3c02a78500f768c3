"""PyTorch CPU reference timings for the families benchmarks of docs/PERFORMANCE.md (issue 14).

    /usr/bin/python3 bench/torch_families.py forward qwen|pythia [--runs N]
    /usr/bin/python3 bench/torch_families.py write-qwen DIR     # the BF16 checkpoint Go's load benchmark reads
    /usr/bin/python3 bench/torch_families.py load-qwen DIR      # PyTorch's time to read it into float32

Prints one JSON object on stdout. forward: a random model of the named shape (Qwen2.5-0.5B: 24 layers,
d_model 896, 14 heads / 2 key-value heads of 64, SwiGLU 4864, vocab 151936, tied, q/k/v biases,
rope theta 1e6; Pythia-160m: 12 layers, d_model 768, 12 heads, d_mlp 3072, vocab 50304, rotary on 16 of
64 dims, parallel residual, untied), batch 4 x pos 128, under torch.no_grad(), keeping every residual
stream tensor (resid_pre / resid_mid / resid_post) as interp's benchmark caches them. An efficient
eager formulation: F.linear, batched matmul attention with the key/value heads expanded, one fused
mask. Times are the median and min of --runs runs after one warm-up; peak_rss_gib is the process's
VmHWM (run one model per process). load-qwen: read every tensor of the safetensors file into float32
torch tensors (numpy frombuffer, BF16 widened), the work interp's Load does.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testdata", "ref"))

SHAPES = {
    "qwen": dict(L=24, D=896, H=14, Hkv=2, K=64, M=4864, V=151936, theta=1e6, rot=64),
    "pythia": dict(L=12, D=768, H=12, Hkv=12, K=64, M=3072, V=50304, theta=10000.0, rot=16),
}


def peak_rss_gib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / (1 << 20)
    return -1


def rope_tables(P, rot, theta):
    inv = 1.0 / (theta ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot))
    ang = torch.arange(P, dtype=torch.float32)[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], -1)
    return emb.cos(), emb.sin()


def rope(x, cos, sin, rot):  # x [B, H, P, K]
    xr, xp = x[..., :rot], x[..., rot:]
    x1, x2 = xr[..., : rot // 2], xr[..., rot // 2 :]
    return torch.cat([xr * cos + torch.cat([-x2, x1], -1) * sin, xp], -1)


def forward(name, runs):
    s = SHAPES[name]
    L, D, H, Hkv, K, M, V = s["L"], s["D"], s["H"], s["Hkv"], s["K"], s["M"], s["V"]
    torch.manual_seed(0)
    r = lambda *sh: torch.randn(*sh) * 0.02
    B, P = 4, 128
    qwen = name == "qwen"
    E = r(V, D)
    layers = []
    for _ in range(L):
        w = dict(q=r(H * K, D), k=r(Hkv * K, D), v=r(Hkv * K, D), o=r(D, H * K), ln1=torch.ones(D), ln2=torch.ones(D),
                 qb=r(H * K), kb=r(Hkv * K), vb=r(Hkv * K))
        if qwen:
            w.update(gate=r(M, D), up=r(M, D), down=r(D, M))
        else:
            w.update(fc=r(M, D), fcb=r(M), proj=r(D, M), projb=r(D), ln1b=torch.zeros(D), ln2b=torch.zeros(D), ob=r(D))
        layers.append(w)
    WU = E if qwen else r(V, D)
    lnf = torch.ones(D)
    cos, sin = rope_tables(P, s["rot"], s["theta"])
    mask = torch.full((P, P), float("-inf")).triu(1)
    tokens = torch.randint(0, V, (B, P))

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w

    def attn(x, w):
        q = F.linear(x, w["q"], w["qb"]).view(B, P, H, K).transpose(1, 2)
        k = F.linear(x, w["k"], w["kb"]).view(B, P, Hkv, K).transpose(1, 2)
        v = F.linear(x, w["v"], w["vb"]).view(B, P, Hkv, K).transpose(1, 2)
        q, k = rope(q, cos, sin, s["rot"]), rope(k, cos, sin, s["rot"])
        if Hkv != H:
            k, v = k.repeat_interleave(H // Hkv, 1), v.repeat_interleave(H // Hkv, 1)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(K) + mask, -1)
        z = (a @ v).transpose(1, 2).reshape(B, P, H * K)
        return F.linear(z, w["o"], w.get("ob"))

    def run():
        cache = []
        h = E[tokens]
        for w in layers:
            cache.append(h)
            if qwen:
                h = h + attn(rms(h, w["ln1"]), w)
                cache.append(h)
                x = rms(h, w["ln2"])
                h = h + F.linear(F.silu(F.linear(x, w["gate"])) * F.linear(x, w["up"]), w["down"])
            else:
                a = attn(F.layer_norm(h, (D,), w["ln1"], w["ln1b"], 1e-5), w)
                m = F.linear(F.gelu(F.linear(F.layer_norm(h, (D,), w["ln2"], w["ln2b"], 1e-5), w["fc"], w["fcb"])), w["proj"], w["projb"])
                h = m + a + h
            cache.append(h)
        x = rms(h, lnf) if qwen else F.layer_norm(h, (D,), lnf, torch.zeros(D), 1e-5)
        return x @ WU.T, cache

    torch.set_num_threads(os.cpu_count())
    with torch.no_grad():
        run()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
    return {f"{name}_b4_p128_ms": statistics.median(times) * 1e3, f"{name}_b4_p128_min_ms": min(times) * 1e3,
            "runs": runs, "threads": torch.get_num_threads(), "peak_rss_gib": peak_rss_gib(), "torch": torch.__version__}


def write_qwen(d):
    """The Qwen2.5-0.5B-shaped checkpoint in Hugging Face's qwen2 layout, BF16, one file."""
    import families_ref as R
    s = SHAPES["qwen"]
    L, D, H, Hkv, K, M, V = s["L"], s["D"], s["H"], s["Hkv"], s["K"], s["M"], s["V"]
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    r = lambda *sh: (torch.randn(*sh, generator=g) * 0.02).to(torch.bfloat16)
    sd = {"model.embed_tokens.weight": r(V, D), "model.norm.weight": torch.ones(D, dtype=torch.bfloat16)}
    for l in range(L):
        b = f"model.layers.{l}."
        sd.update({b + "self_attn.q_proj.weight": r(H * K, D), b + "self_attn.k_proj.weight": r(Hkv * K, D),
                   b + "self_attn.v_proj.weight": r(Hkv * K, D), b + "self_attn.q_proj.bias": r(H * K),
                   b + "self_attn.k_proj.bias": r(Hkv * K), b + "self_attn.v_proj.bias": r(Hkv * K),
                   b + "self_attn.o_proj.weight": r(D, H * K), b + "mlp.gate_proj.weight": r(M, D),
                   b + "mlp.up_proj.weight": r(M, D), b + "mlp.down_proj.weight": r(D, M),
                   b + "input_layernorm.weight": torch.ones(D, dtype=torch.bfloat16),
                   b + "post_attention_layernorm.weight": torch.ones(D, dtype=torch.bfloat16)})
    R.write_safetensors(os.path.join(d, "model.safetensors"), sd, {"format": "pt"})
    cfg = dict(model_type="qwen2", hidden_size=D, num_hidden_layers=L, num_attention_heads=H, num_key_value_heads=Hkv,
               intermediate_size=M, max_position_embeddings=32768, vocab_size=V, rms_norm_eps=1e-6, rope_theta=1e6,
               hidden_act="silu", tie_word_embeddings=True, use_sliding_window=False, torch_dtype="bfloat16")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    return {"wrote": d, "bytes": os.path.getsize(os.path.join(d, "model.safetensors"))}


def load_qwen(d):
    path = os.path.join(d, "model.safetensors")
    t0 = time.perf_counter()
    data = open(path, "rb").read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        u = np.frombuffer(data, dtype="<u2", count=(b - a) // 2, offset=8 + n + a)
        out[name] = torch.from_numpy(u.astype(np.int32) << 16).view(torch.float32).reshape(e["shape"])
    sec = time.perf_counter() - t0
    return {"qwen_bf16_load_s": sec, "tensors": len(out), "peak_rss_gib": peak_rss_gib()}


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "forward":
        runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 5
        print(json.dumps(forward(sys.argv[2], runs)))
    elif cmd == "write-qwen":
        print(json.dumps(write_qwen(sys.argv[2])))
    elif cmd == "load-qwen":
        print(json.dumps(load_qwen(sys.argv[2])))
