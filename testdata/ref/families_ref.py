"""Independent PyTorch references for the model families interp loads, and their goldens.

    /usr/bin/python3 testdata/ref/families_ref.py        # from the repository root; ~2 s

Each family's forward pass is written here from its published definition (the Hugging Face
modeling code's semantics: norms, rotary embeddings, attention masks and scales, MLPs, residual
layouts), on the raw Hugging Face state dict with Hugging Face tensor names -- no transformers, no
interp code. For every variant in VARIANTS this writes testdata/golden-families/<variant>/:

    config.json                  the family's Hugging Face config
    model.safetensors            random weights (F32, F16 or BF16), or model-0000N-of-00002
                                 shards with model.safetensors.index.json
    tokens.json                  [[...], [...]] batch 2 x 10 positions
    expected.safetensors         logits [B,P,V], blocks.L.hook_resid_pre [B,P,D] and
                                 blocks.L.attn.hook_pattern [B,H,P,P] of every layer, float32

The weights are drawn from a seeded generator, written to disk, read back (so BF16/F16 rounding is
what the reference computes with), and the forward pass runs in float64.
"""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "testdata", "golden-families")
SEED = 20261202

# ---- safetensors (F32, F16, BF16, BOOL), written and read by hand --------------------------------

_ST = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.bool: "BOOL"}


def _raw(t: torch.Tensor) -> bytes:
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    if t.dtype == torch.bool:
        return t.numpy().astype(np.uint8).tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        b = _raw(tensors[name])
        header[name] = {"dtype": _ST[tensors[name].dtype], "shape": list(tensors[name].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        raw = data[8 + n + a : 8 + n + b]
        if e["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        elif e["dtype"] == "BOOL":
            arr = np.frombuffer(raw, dtype=np.uint8).astype(bool)
        else:
            arr = np.frombuffer(raw, dtype={"F32": "<f4", "F16": "<f2"}[e["dtype"]]).astype(np.float32)
        out[name] = torch.from_numpy(arr.copy()).reshape(e["shape"])
    return out


def write_bin(d, sd, shards):
    """pytorch_model.bin (torch.save's zip format), or two shards with pytorch_model.bin.index.json.
    A 2-D weight is stored as a transposed view (non-contiguous strides), as tied or sliced
    parameters can be."""
    sd = dict(sd)
    for k, v in sd.items():
        if v.dim() == 2 and v.dtype != torch.bool:
            sd[k] = v.t().contiguous().t()  # same values, strides (1, rows)
            break
    if shards == 1:
        torch.save(sd, os.path.join(d, "pytorch_model.bin"))
        return {k: v.clone() for k, v in torch.load(os.path.join(d, "pytorch_model.bin")).items()}
    names = sorted(sd)
    half = (len(names) + 1) // 2
    weight_map, back = {}, {}
    for i, part in enumerate([names[:half], names[half:]]):
        fn = f"pytorch_model-{i + 1:05d}-of-00002.bin"
        torch.save({k: sd[k] for k in part}, os.path.join(d, fn))
        weight_map.update({k: fn for k in part})
        back.update(torch.load(os.path.join(d, fn)))
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    return back


def write_checkpoint(d, sd, dtype, shards, fmt="safetensors"):
    sd = {k: (v if v.dtype == torch.bool else v.to(dtype)) for k, v in sd.items()}
    if fmt == "bin":
        return {k: (v if v.dtype == torch.bool else v.float()) for k, v in write_bin(d, sd, shards).items()}
    if shards == 1:
        write_safetensors(os.path.join(d, "model.safetensors"), sd, {"format": "pt"})
        return read_safetensors(os.path.join(d, "model.safetensors"))
    names = sorted(sd)
    half = (len(names) + 1) // 2
    weight_map, back = {}, {}
    for i, part in enumerate([names[:half], names[half:]]):
        fn = f"model-{i + 1:05d}-of-00002.safetensors"
        write_safetensors(os.path.join(d, fn), {k: sd[k] for k in part}, {"format": "pt"})
        weight_map.update({k: fn for k in part})
        back.update(read_safetensors(os.path.join(d, fn)))
    total = sum(len(_raw(v)) for v in sd.values())
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    return back


# ---- shared pieces ----------------------------------------------------------------------------------

def rms_norm(x, w, eps, one_plus=False):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * ((1.0 + w) if one_plus else w)


def layer_norm(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def act(name, x):
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))
    if name == "gelu":
        return F.gelu(x)
    if name == "silu":
        return x * torch.sigmoid(x)
    raise ValueError(name)


def inv_freq(dim, base, scaling=None):
    """Rotary inverse frequencies, with Hugging Face's linear and llama3 rope_scaling."""
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    if not scaling:
        return inv
    if scaling["rope_type"] == "linear":
        return inv / scaling["factor"]
    assert scaling["rope_type"] == "llama3"
    factor, lo, hi, old = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"], scaling["original_max_position_embeddings"]
    lo_wl, hi_wl = old / lo, old / hi
    wl = 2 * math.pi / inv
    scaled = torch.where(wl > lo_wl, inv / factor, inv)
    smooth = (old / wl - lo) / (hi - lo)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wl >= hi_wl) & (wl <= lo_wl)
    return torch.where(medium, smoothed, scaled)


def rope(x, P, rdim, base, scaling=None):
    """x [B, H, P, K]: rotate the first rdim dims of each head, rotate_half pairing (i, i + rdim/2)."""
    ang = torch.arange(P, dtype=torch.float64)[:, None] * inv_freq(rdim, base, scaling)[None, :]
    emb = torch.cat([ang, ang], -1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    xr, xp = x[..., :rdim], x[..., rdim:]
    x1, x2 = xr[..., : rdim // 2], xr[..., rdim // 2 :]
    rot = torch.cat([-x2, x1], -1)
    return torch.cat([xr * cos + rot * sin, xp], -1)


def attend(q, k, v, scale, softcap=None, window=None):
    """q [B,H,P,K], k/v [B,Hkv,P,K] -> z [B,H,P,K], pattern [B,H,P,P]. Causal; a local layer sees
    keys s with q - window < s <= q."""
    H, Hkv, P = q.shape[1], k.shape[1], q.shape[2]
    k, v = k.repeat_interleave(H // Hkv, dim=1), v.repeat_interleave(H // Hkv, dim=1)
    s = (q @ k.transpose(-1, -2)) * scale
    if softcap:
        s = torch.tanh(s / softcap) * softcap
    i = torch.arange(P)[:, None]
    j = torch.arange(P)[None, :]
    ok = j <= i
    if window:
        ok = ok & (i - j < window)
    s = s.masked_fill(~ok, float("-inf"))
    p = torch.softmax(s, -1)
    return p @ v, p


def heads(x, n, K):  # [B, P, n*K] -> [B, n, P, K]
    B, P, _ = x.shape
    return x.view(B, P, n, K).transpose(1, 2)


def merge(z):  # [B, H, P, K] -> [B, P, H*K]
    B, H, P, K = z.shape
    return z.transpose(1, 2).reshape(B, P, H * K)


# ---- the families ------------------------------------------------------------------------------------

def llama_like(cfg, sd, tokens):
    """llama, mistral, qwen2, qwen3, olmo2, phi3, gemma2, gemma3_text."""
    t = cfg["model_type"]
    gemma = t.startswith("gemma")
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    Hkv = cfg.get("num_key_value_heads", H)
    K = cfg.get("head_dim") or D // H
    L, eps = cfg["num_hidden_layers"], cfg["rms_norm_eps"]
    B, P = tokens.shape
    norm = lambda x, name: rms_norm(x, sd[name + ".weight"], eps, one_plus=gemma)
    hidden_act = cfg.get("hidden_activation") if gemma else cfg.get("hidden_act")
    rdim = int(K * cfg.get("partial_rotary_factor", 1.0))
    scale = cfg["query_pre_attn_scalar"] ** -0.5 if gemma else K ** -0.5
    local = [False] * L
    if t == "gemma2":
        local = [l % 2 == 0 for l in range(L)]
    elif t == "gemma3_text":
        local = [(l + 1) % cfg["sliding_window_pattern"] != 0 for l in range(L)]
    elif cfg.get("sliding_window"):
        local = [True] * L
    pre = "model."
    h = sd[pre + "embed_tokens.weight"][tokens]
    if gemma:
        h = h * torch.tensor(D ** 0.5, dtype=torch.float32).double()  # Gemma rounds the normaliser to the dtype
    cache = {}
    for l in range(L):
        cache[f"blocks.{l}.hook_resid_pre"] = h
        b = f"{pre}layers.{l}."
        a = b + "self_attn."
        x = h if t == "olmo2" else norm(h, b + "input_layernorm")
        if t == "phi3":
            qkv = x @ sd[a + "qkv_proj.weight"].T
            q, k, v = qkv.split([H * K, Hkv * K, Hkv * K], -1)
        else:
            q, k, v = (x @ sd[a + n + "_proj.weight"].T for n in "qkv")
            if a + "q_proj.bias" in sd:
                q, k, v = q + sd[a + "q_proj.bias"], k + sd[a + "k_proj.bias"], v + sd[a + "v_proj.bias"]
        if t == "olmo2":  # over the whole projection, before splitting heads
            q, k = norm(q, a + "q_norm"), norm(k, a + "k_norm")
        q, k, v = heads(q, H, K), heads(k, Hkv, K), heads(v, Hkv, K)
        if t in ("qwen3", "gemma3_text"):  # per head
            q, k = norm(q, a + "q_norm"), norm(k, a + "k_norm")
        if t == "gemma3_text" and local[l]:
            base, scaling = cfg["rope_local_base_freq"], None
        else:
            base, scaling = cfg.get("rope_theta", 10000.0), cfg.get("rope_scaling")
        q, k = rope(q, P, rdim, base, scaling), rope(k, P, rdim, base, scaling)
        window = cfg.get("sliding_window") if local[l] else None
        z, pat = attend(q, k, v, scale, cfg.get("attn_logit_softcapping") if t == "gemma2" else None, window)
        cache[f"blocks.{l}.attn.hook_pattern"] = pat
        o = merge(z) @ sd[a + "o_proj.weight"].T
        m = b + "mlp."

        def mlp(x):
            if t == "phi3":
                gate, up = (x @ sd[m + "gate_up_proj.weight"].T).chunk(2, -1)
            else:
                gate, up = x @ sd[m + "gate_proj.weight"].T, x @ sd[m + "up_proj.weight"].T
            return (act(hidden_act, gate) * up) @ sd[m + "down_proj.weight"].T

        if gemma:
            h = h + norm(o, b + "post_attention_layernorm")
            h = h + norm(mlp(norm(h, b + "pre_feedforward_layernorm")), b + "post_feedforward_layernorm")
        elif t == "olmo2":
            h = h + norm(o, b + "post_attention_layernorm")
            h = h + norm(mlp(h), b + "post_feedforward_layernorm")
        else:
            h = h + o
            h = h + mlp(norm(h, b + "post_attention_layernorm"))
    h = norm(h, pre + "norm")
    wu = sd.get("lm_head.weight", sd[pre + "embed_tokens.weight"])
    logits = h @ wu.T
    if t == "gemma2" and cfg.get("final_logit_softcapping"):
        c = cfg["final_logit_softcapping"]
        logits = torch.tanh(logits / c) * c
    return logits, cache


def gpt_neox(cfg, sd, tokens):
    D, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    K, eps = D // H, cfg["layer_norm_eps"]
    B, P = tokens.shape
    rdim = int(K * cfg["rotary_pct"])
    ln = lambda x, n: layer_norm(x, sd[n + ".weight"], sd[n + ".bias"], eps)
    lin = lambda x, n: x @ sd[n + ".weight"].T + sd[n + ".bias"]
    h = sd["gpt_neox.embed_in.weight"][tokens]
    cache = {}
    for l in range(L):
        cache[f"blocks.{l}.hook_resid_pre"] = h
        b = f"gpt_neox.layers.{l}."
        qkv = lin(ln(h, b + "input_layernorm"), b + "attention.query_key_value").view(B, P, H, 3 * K)
        q, k, v = (qkv[..., i * K : (i + 1) * K].transpose(1, 2) for i in range(3))
        q, k = rope(q, P, rdim, cfg["rotary_emb_base"]), rope(k, P, rdim, cfg["rotary_emb_base"])
        z, pat = attend(q, k, v, K ** -0.5)
        cache[f"blocks.{l}.attn.hook_pattern"] = pat
        a = lin(merge(z), b + "attention.dense")
        mlp = lambda x: lin(act(cfg["hidden_act"], lin(x, b + "mlp.dense_h_to_4h")), b + "mlp.dense_4h_to_h")
        if cfg["use_parallel_residual"]:
            h = mlp(ln(h, b + "post_attention_layernorm")) + a + h
        else:
            h = h + a
            h = h + mlp(ln(h, b + "post_attention_layernorm"))
    return ln(h, "gpt_neox.final_layer_norm") @ sd["embed_out.weight"].T, cache


def gpt_neo(cfg, sd, tokens):
    D, H, L = cfg["hidden_size"], cfg["num_heads"], cfg["num_layers"]
    K, eps = D // H, cfg["layer_norm_epsilon"]
    B, P = tokens.shape
    types = [t for pattern, n in cfg["attention_types"] for _ in range(n) for t in pattern]
    ln = lambda x, n: layer_norm(x, sd[n + ".weight"], sd[n + ".bias"], eps)
    lin = lambda x, n: x @ sd[n + ".weight"].T + sd[n + ".bias"]
    h = sd["transformer.wte.weight"][tokens] + sd["transformer.wpe.weight"][:P]
    cache = {}
    for l in range(L):
        cache[f"blocks.{l}.hook_resid_pre"] = h
        b = f"transformer.h.{l}."
        a = b + "attn.attention."
        x = ln(h, b + "ln_1")
        q, k, v = (heads(x @ sd[a + n + "_proj.weight"].T, H, K) for n in "qkv")
        z, pat = attend(q, k, v, 1.0, None, cfg["window_size"] if types[l] == "local" else None)  # GPT-Neo does not scale
        cache[f"blocks.{l}.attn.hook_pattern"] = pat
        h = h + lin(merge(z), a + "out_proj")
        h = h + lin(act(cfg["activation_function"], lin(ln(h, b + "ln_2"), b + "mlp.c_fc")), b + "mlp.c_proj")
    return ln(h, "transformer.ln_f") @ sd["transformer.wte.weight"].T, cache


# ---- random checkpoints -------------------------------------------------------------------------------

def llama_state(cfg, g):
    t = cfg["model_type"]
    D, H, M, V, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    Hkv = cfg.get("num_key_value_heads", H)
    K = cfg.get("head_dim") or D // H
    gemma = t.startswith("gemma")
    r = lambda *s, std=0.3: torch.randn(*s, generator=g, dtype=torch.float64) * std
    gain = lambda n: r(n, std=0.1) if gemma else 1.0 + r(n, std=0.1)
    sd = {"model.embed_tokens.weight": r(V, D, std=1.0), "model.norm.weight": gain(D)}
    for l in range(L):
        b = f"model.layers.{l}."
        a = b + "self_attn."
        if t == "phi3":
            sd[a + "qkv_proj.weight"] = r((H + 2 * Hkv) * K, D)
            sd[b + "mlp.gate_up_proj.weight"] = r(2 * M, D)
        else:
            sd[a + "q_proj.weight"], sd[a + "k_proj.weight"], sd[a + "v_proj.weight"] = r(H * K, D), r(Hkv * K, D), r(Hkv * K, D)
            sd[b + "mlp.gate_proj.weight"], sd[b + "mlp.up_proj.weight"] = r(M, D), r(M, D)
        if t == "qwen2":
            sd[a + "q_proj.bias"], sd[a + "k_proj.bias"], sd[a + "v_proj.bias"] = r(H * K, std=0.1), r(Hkv * K, std=0.1), r(Hkv * K, std=0.1)
        sd[a + "o_proj.weight"] = r(D, H * K, std=0.2)
        sd[b + "mlp.down_proj.weight"] = r(D, M, std=0.2)
        if t in ("qwen3", "gemma3_text"):
            sd[a + "q_norm.weight"], sd[a + "k_norm.weight"] = gain(K), gain(K)
        if t == "olmo2":
            sd[a + "q_norm.weight"], sd[a + "k_norm.weight"] = gain(H * K), gain(Hkv * K)
        if t != "olmo2":
            sd[b + "input_layernorm.weight"] = gain(D)
        sd[b + "post_attention_layernorm.weight"] = gain(D)
        if gemma:
            sd[b + "pre_feedforward_layernorm.weight"] = gain(D)
        if gemma or t == "olmo2":
            sd[b + "post_feedforward_layernorm.weight"] = gain(D)
        if cfg.get("_inv_freq_buffers"):
            sd[a + "rotary_emb.inv_freq"] = inv_freq(int(K * cfg.get("partial_rotary_factor", 1.0)), cfg.get("rope_theta", 10000.0))
    if not cfg.get("tie_word_embeddings", False):
        sd["lm_head.weight"] = r(V, D)
    return sd


def neox_state(cfg, g):
    D, H, M, V, L, P = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"], cfg["max_position_embeddings"]
    K = D // H
    r = lambda *s, std=0.3: torch.randn(*s, generator=g, dtype=torch.float64) * std
    sd = {"gpt_neox.embed_in.weight": r(V, D, std=1.0), "embed_out.weight": r(V, D),
          "gpt_neox.final_layer_norm.weight": 1 + r(D, std=0.1), "gpt_neox.final_layer_norm.bias": r(D, std=0.1)}
    for l in range(L):
        b = f"gpt_neox.layers.{l}."
        for n in ("input_layernorm", "post_attention_layernorm"):
            sd[b + n + ".weight"], sd[b + n + ".bias"] = 1 + r(D, std=0.1), r(D, std=0.1)
        sd[b + "attention.query_key_value.weight"], sd[b + "attention.query_key_value.bias"] = r(3 * D, D), r(3 * D, std=0.1)
        sd[b + "attention.dense.weight"], sd[b + "attention.dense.bias"] = r(D, D, std=0.2), r(D, std=0.1)
        sd[b + "mlp.dense_h_to_4h.weight"], sd[b + "mlp.dense_h_to_4h.bias"] = r(M, D), r(M, std=0.1)
        sd[b + "mlp.dense_4h_to_h.weight"], sd[b + "mlp.dense_4h_to_h.bias"] = r(D, M, std=0.2), r(D, std=0.1)
        # The buffers Pythia checkpoints carry (a loader must skip them).
        sd[b + "attention.bias"] = torch.tril(torch.ones(P, P, dtype=torch.bool)).view(1, 1, P, P)
        sd[b + "attention.masked_bias"] = torch.tensor(-1e9)
        sd[b + "attention.rotary_emb.inv_freq"] = inv_freq(int(K * cfg["rotary_pct"]), cfg["rotary_emb_base"])
    return sd


def neo_state(cfg, g):
    D, V, L, P = cfg["hidden_size"], cfg["vocab_size"], cfg["num_layers"], cfg["max_position_embeddings"]
    M = 4 * D
    r = lambda *s, std=0.3: torch.randn(*s, generator=g, dtype=torch.float64) * std
    sd = {"transformer.wte.weight": r(V, D, std=1.0), "transformer.wpe.weight": r(P, D, std=0.5),
          "transformer.ln_f.weight": 1 + r(D, std=0.1), "transformer.ln_f.bias": r(D, std=0.1)}
    for l in range(L):
        b = f"transformer.h.{l}."
        a = b + "attn.attention."
        for n in ("ln_1", "ln_2"):
            sd[b + n + ".weight"], sd[b + n + ".bias"] = 1 + r(D, std=0.1), r(D, std=0.1)
        for n in "qkv":
            sd[a + n + "_proj.weight"] = r(D, D, std=0.15)  # unscaled scores: keep them moderate
        sd[a + "out_proj.weight"], sd[a + "out_proj.bias"] = r(D, D, std=0.2), r(D, std=0.1)
        sd[b + "mlp.c_fc.weight"], sd[b + "mlp.c_fc.bias"] = r(M, D), r(M, std=0.1)
        sd[b + "mlp.c_proj.weight"], sd[b + "mlp.c_proj.bias"] = r(D, M, std=0.2), r(D, std=0.1)
        sd[a + "bias"] = torch.tril(torch.ones(P, P, dtype=torch.bool)).view(1, 1, P, P)
        sd[a + "masked_bias"] = torch.tensor(-1e9)
    return sd


def llama_cfg(t, **kw):
    c = dict(model_type=t, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             intermediate_size=48, max_position_embeddings=32, vocab_size=64, rms_norm_eps=1e-5,
             hidden_act="silu", rope_theta=10000.0, tie_word_embeddings=False)
    c.update(kw)
    return c


VARIANTS = [
    # Llama 3 style: GQA, llama3 rope_scaling (short original context so every branch is used), BF16, sharded.
    dict(name="llama-gqa-bf16-sharded", dtype=torch.bfloat16, shards=2, cfg=llama_cfg(
        "llama", rope_theta=500000.0, rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                                         high_freq_factor=4.0, original_max_position_embeddings=16))),
    # SmolLM style: tied, no GQA, inv_freq buffers, F16.
    dict(name="llama-tied-f16", dtype=torch.float16, shards=1, cfg=llama_cfg(
        "llama", num_key_value_heads=4, tie_word_embeddings=True, _inv_freq_buffers=True)),
    dict(name="mistral-window", dtype=torch.float32, shards=1, cfg=llama_cfg("mistral", sliding_window=4)),
    dict(name="qwen2-bias-tied", dtype=torch.float32, shards=1, cfg=llama_cfg(
        "qwen2", tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6)),
    dict(name="qwen3-qknorm-bf16", dtype=torch.bfloat16, shards=1, cfg=llama_cfg("qwen3", head_dim=16, rms_norm_eps=1e-6)),
    dict(name="olmo2-postnorm", dtype=torch.float32, shards=2, cfg=llama_cfg("olmo2", num_hidden_layers=3, num_key_value_heads=4)),
    dict(name="phi3-fused-partial", dtype=torch.float32, shards=1, cfg=llama_cfg(
        "phi3", partial_rotary_factor=0.5, sliding_window=5, num_key_value_heads=4)),
    dict(name="gemma2-softcap", dtype=torch.float32, shards=1, cfg=llama_cfg(
        "gemma2", num_hidden_layers=3, head_dim=16, hidden_activation="gelu_pytorch_tanh", hidden_act=None,
        query_pre_attn_scalar=12, attn_logit_softcapping=4.0, final_logit_softcapping=3.0, sliding_window=4,
        tie_word_embeddings=True, rms_norm_eps=1e-6)),
    dict(name="gemma3-local-rope-bf16", dtype=torch.bfloat16, shards=2, cfg=llama_cfg(
        "gemma3_text", num_hidden_layers=3, head_dim=16, hidden_activation="gelu_pytorch_tanh", hidden_act=None,
        query_pre_attn_scalar=16, sliding_window=4, sliding_window_pattern=2, rope_theta=1000000.0,
        rope_local_base_freq=10000.0, rope_scaling=dict(rope_type="linear", factor=2.0),
        tie_word_embeddings=True, rms_norm_eps=1e-6, attn_logit_softcapping=None, final_logit_softcapping=None)),
    dict(name="pythia-parallel", dtype=torch.float32, shards=1, cfg=dict(
        model_type="gpt_neox", hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=32, vocab_size=64, layer_norm_eps=1e-5, rotary_pct=0.25, rotary_emb_base=10000,
        use_parallel_residual=True, hidden_act="gelu", tie_word_embeddings=False)),
    dict(name="pythia-sequential-bf16", dtype=torch.bfloat16, shards=1, cfg=dict(
        model_type="gpt_neox", hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=32, vocab_size=64, layer_norm_eps=1e-5, rotary_pct=0.5, rotary_emb_base=10000,
        use_parallel_residual=False, hidden_act="gelu", tie_word_embeddings=False)),
    # Pythia training checkpoints are often only pytorch_model.bin: F16, and a sharded BF16 Llama.
    dict(name="pythia-bin-f16", dtype=torch.float16, shards=1, fmt="bin", cfg=dict(
        model_type="gpt_neox", hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=32, vocab_size=64, layer_norm_eps=1e-5, rotary_pct=0.25, rotary_emb_base=10000,
        use_parallel_residual=True, hidden_act="gelu", tie_word_embeddings=False)),
    dict(name="llama-bin-bf16-sharded", dtype=torch.bfloat16, shards=2, fmt="bin", cfg=llama_cfg("llama")),
    dict(name="gpt-neo-local", dtype=torch.float32, shards=1, cfg=dict(
        model_type="gpt_neo", hidden_size=32, num_layers=2, num_heads=4, max_position_embeddings=32, vocab_size=64,
        layer_norm_epsilon=1e-5, attention_types=[[["global", "local"], 1]], window_size=4,
        activation_function="gelu_new", intermediate_size=None, tie_word_embeddings=True)),
]


def main():
    g = torch.Generator().manual_seed(SEED)
    for v in VARIANTS:
        cfg = v["cfg"]
        t = cfg["model_type"]
        d = os.path.join(OUT, v["name"])
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        if t == "gpt_neox":
            sd, fwd = neox_state(cfg, g), gpt_neox
        elif t == "gpt_neo":
            sd, fwd = neo_state(cfg, g), gpt_neo
        else:
            sd, fwd = llama_state(cfg, g), llama_like
        disk = write_checkpoint(d, {k: x.float() if x.dtype != torch.bool else x for k, x in sd.items()}, v["dtype"], v["shards"],
                                v.get("fmt", "safetensors"))
        public = {k: x for k, x in cfg.items() if not k.startswith("_")}
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(public, f, indent=2)
        tokens = torch.randint(0, cfg["vocab_size"], (2, 10), generator=g)
        with open(os.path.join(d, "tokens.json"), "w") as f:
            json.dump(tokens.tolist(), f)
        sd64 = {k: (x.double() if x.dtype != torch.bool else x) for k, x in disk.items()}
        logits, cache = fwd(public, sd64, tokens)
        out = {"logits": logits.float()}
        out.update({k: x.float() for k, x in cache.items()})
        write_safetensors(os.path.join(d, "expected.safetensors"), out)
        pats = [x for k, x in cache.items() if k.endswith("hook_pattern")]
        rowmax = float(torch.stack([p.max(-1).values[..., 4:].mean() for p in pats]).mean())
        print(f"{v['name']:28s} {t:12s} logits std {logits.std():.2f}  mean pattern row-max (q>=4) {rowmax:.2f}")


class _Evil:
    """Pickles as a call of os.system: what a restricted unpickler must refuse (never loaded here)."""

    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def write_bad_bins():
    """testdata/torchbin/: .bin files a loader must refuse, each with the reason in its name."""
    d = os.path.join(REPO, "testdata", "torchbin")
    os.makedirs(d, exist_ok=True)
    torch.save({"w": torch.zeros(2), "x": _Evil()}, os.path.join(d, "global-os-system.bin"))
    torch.save(torch.zeros(3), os.path.join(d, "not-a-dict.bin"))
    torch.save({"w": torch.zeros(2, dtype=torch.int64)}, os.path.join(d, "int-tensor.bin"))
    torch.save({"w": torch.arange(6, dtype=torch.float32).view(2, 3).t()}, os.path.join(d, "transposed.bin"))
    # float16 subnormals, the smallest normal, one and the largest finite value, and a bfloat16 pair.
    torch.save({"h": torch.tensor([6e-8, -7.27e-6, 6.1035e-5, 1.0, -65504.0], dtype=torch.float16),
                "b": torch.tensor([1e-40, -3.0e38], dtype=torch.bfloat16)}, os.path.join(d, "halves.bin"))


if __name__ == "__main__":
    main()
    write_bad_bins()
