"""Independent PyTorch reference for the interp GPT-2 engine (TransformerLens hook semantics).

This module is deliberately self-contained (torch + numpy + stdlib only; no `transformers`,
no `safetensors` package) so it can serve as an independent oracle for the Go implementation.

Notation: B batch, P positions, D d_model, H heads, K d_head, M d_mlp, V vocab.

Contents
  * read_safetensors / write_safetensors : the safetensors file format, by hand.
  * RefConfig / config_from_hf           : the model shape, parsed from a HF GPT-2 config.json
                                           (plus this project's interp_* extensions).
  * params_from_hf                       : HF GPT-2 state dict (Conv1D layout) -> TransformerLens
                                           parameter names/shapes (W_E, W_Q[h,d,k], ...).
  * run_with_cache                       : the forward pass, returning logits and every hook
                                           activation under its TransformerLens name.
  * hf_style_forward                     : a second, independent forward pass written the way
                                           Hugging Face writes GPT-2 (fused c_attn, split/merge
                                           heads, torch layer_norm), used only to self-check.

Hook semantics (exactly what run_with_cache records):
  hook_embed            W_E[tokens]                                   [B,P,D]
  hook_pos_embed        W_pos[:P] broadcast                           [B,P,D]  (absent if no pos embed)
  blocks.0.hook_resid_pre = embed (+ pos_embed)
  <ln>.hook_scale       sqrt(mean((x-mean x)^2) + eps)                [B,P,1]
  <ln>.hook_normalized  ((x-mean x)/scale) * w + b                    [B,P,D]
  blocks.L.attn.hook_q/k/v   einsum('bpd,hdk->bphk') + b              [B,P,H,K]
  blocks.L.attn.hook_attn_scores  q.k/sqrt(K), causal mask = -inf     [B,H,P,P]
  blocks.L.attn.hook_pattern      softmax over the key axis           [B,H,P,P]
  blocks.L.attn.hook_z            pattern @ v                         [B,P,H,K]
  blocks.L.attn.hook_result       per-head z @ W_O                    [B,P,H,D]
  blocks.L.hook_attn_out          sum over heads + b_O                [B,P,D]
  blocks.L.hook_resid_mid         resid_pre + attn_out                (MLP models only)
  blocks.L.mlp.hook_pre/hook_post, blocks.L.hook_mlp_out              (MLP models only)
  blocks.L.hook_resid_post        resid_mid + mlp_out  (attn-only: resid_pre + attn_out)
  logits                          ln_final(resid) @ W_U               [B,P,V]  (no unembed bias)
"""

from __future__ import annotations

import json
import math
import struct
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

# ---------------------------------------------------------------------------------------------
# safetensors, by hand
# ---------------------------------------------------------------------------------------------

_ST_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32}
_NP_TO_ST = {np.dtype(v).str: k for k, v in _ST_DTYPES.items()}


def write_safetensors(path: str, tensors: dict, metadata: dict | None = None) -> None:
    """Write `tensors` (name -> torch.Tensor or np.ndarray) in the safetensors format.

    Layout: u64 little-endian header length N, then N bytes of JSON header (padded with spaces
    to a multiple of 8), then the raw little-endian tensor bytes. Tensors are laid out in sorted
    name order (the reference implementation also sorts by name among tensors of equal dtype).
    """
    arrays = OrderedDict()
    for name in sorted(tensors):
        t = tensors[name]
        a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        # (np.ascontiguousarray would turn a 0-d scalar into shape [1]; reshape keeps [] intact)
        a = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"), copy=False)).reshape(a.shape)
        arrays[name] = a
    header: dict = OrderedDict()
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, a in arrays.items():
        st = _NP_TO_ST.get(a.dtype.str)
        if st is None:
            raise ValueError(f"unsupported dtype {a.dtype} for {name}")
        header[name] = {"dtype": st, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for a in arrays.values():
            f.write(a.tobytes(order="C"))


def read_safetensors(path: str) -> tuple[dict, dict]:
    """Read a safetensors file; returns (name -> torch.Tensor, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    meta = header.pop("__metadata__", {}) or {}
    out = OrderedDict()
    for name, info in header.items():
        start, end = info["data_offsets"]
        dt = np.dtype(_ST_DTYPES[info["dtype"]]).newbyteorder("<")
        a = np.frombuffer(data[base + start : base + end], dtype=dt).reshape(info["shape"])
        out[name] = torch.from_numpy(a.astype(a.dtype.newbyteorder("="), copy=True))
    return out, meta


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------


@dataclass
class RefConfig:
    n_layers: int
    d_model: int
    n_heads: int
    d_head: int
    d_mlp: int  # 0 for attention-only models
    n_ctx: int
    d_vocab: int
    act_fn: str = "gelu_new"  # gelu_new | gelu | relu
    eps: float = 1e-5
    normalization: str = "LN"  # "LN" or "none"
    attn_only: bool = False
    positional_embeddings: bool = True
    tied: bool = True
    # shortformer (interp_shortformer; TransformerLens positional_embedding_type "shortformer"):
    # the positional embedding is added to the queries' and keys' inputs after ln1, never to the
    # residual stream.
    shortformer: bool = False


def config_from_hf(hf: dict) -> RefConfig:
    """Parse a Hugging Face GPT-2 config.json dict (plus interp_* extensions)."""
    d_model, n_heads = hf["n_embd"], hf["n_head"]
    d_head = hf.get("interp_d_head") or d_model // n_heads
    attn_only = bool(hf.get("interp_attn_only", False))
    d_mlp = 0 if attn_only else (hf.get("n_inner") or 4 * d_model)
    act = hf.get("activation_function", "gelu_new")
    if act == "gelu_pytorch_tanh":
        act = "gelu_new"
    return RefConfig(
        n_layers=hf["n_layer"],
        d_model=d_model,
        n_heads=n_heads,
        d_head=d_head,
        d_mlp=d_mlp,
        n_ctx=hf.get("n_positions") or hf.get("n_ctx"),
        d_vocab=hf["vocab_size"],
        act_fn=act,
        eps=hf.get("layer_norm_epsilon", 1e-5),
        normalization=hf.get("interp_normalization") or "LN",
        attn_only=attn_only,
        positional_embeddings=not hf.get("interp_no_pos_embed", False),
        tied=hf.get("tie_word_embeddings", True),
        shortformer=bool(hf.get("interp_shortformer", False)),
    )


# ---------------------------------------------------------------------------------------------
# HF GPT-2 layout -> TransformerLens parameters
# ---------------------------------------------------------------------------------------------


def strip_prefix(sd: dict) -> dict:
    """Drop the optional "transformer." key prefix (HF GPT2LMHeadModel); lm_head.* has none."""
    return {(k[len("transformer.") :] if k.startswith("transformer.") else k): v for k, v in sd.items()}


def params_from_hf(sd: dict, cfg: RefConfig) -> dict:
    """Convert an HF GPT-2 state dict to TransformerLens-named parameters.

    c_attn.weight is a Conv1D weight [in=D, out=3*H*K]; its columns are [Q | K | V], each block of
    H*K columns head-major (column h*K+k). Hence
        W_Q[h,d,k] = c_attn.weight[d, 0*H*K + h*K + k]
        W_K[h,d,k] = c_attn.weight[d, 1*H*K + h*K + k]
        W_V[h,d,k] = c_attn.weight[d, 2*H*K + h*K + k]
        b_Q[h,k]   = c_attn.bias[h*K + k]   (likewise for K, V)
        W_O[h,k,d] = c_proj.weight[h*K + k, d]
    The causal-mask buffers h.L.attn.bias / h.L.attn.masked_bias are ignored.
    """
    sd = strip_prefix(sd)
    H, K, D = cfg.n_heads, cfg.d_head, cfg.d_model
    HK = H * K
    p = {"embed.W_E": sd["wte.weight"]}
    if cfg.positional_embeddings:
        p["pos_embed.W_pos"] = sd["wpe.weight"]
    for L in range(cfg.n_layers):
        h = f"h.{L}."
        b = f"blocks.{L}."
        if cfg.normalization == "LN":
            p[b + "ln1.w"] = sd[h + "ln_1.weight"]
            p[b + "ln1.b"] = sd[h + "ln_1.bias"]
        w = sd[h + "attn.c_attn.weight"]  # [D, 3HK]
        bias = sd[h + "attn.c_attn.bias"]  # [3HK]
        for i, name in enumerate("QKV"):
            cols = w[:, i * HK : (i + 1) * HK]  # [D, HK]
            p[b + f"attn.W_{name}"] = cols.reshape(D, H, K).permute(1, 0, 2).contiguous()  # [H,D,K]
            p[b + f"attn.b_{name}"] = bias[i * HK : (i + 1) * HK].reshape(H, K).contiguous()
        p[b + "attn.W_O"] = sd[h + "attn.c_proj.weight"].reshape(H, K, D).contiguous()  # [H,K,D]
        p[b + "attn.b_O"] = sd[h + "attn.c_proj.bias"]
        if not cfg.attn_only:
            if cfg.normalization == "LN":
                p[b + "ln2.w"] = sd[h + "ln_2.weight"]
                p[b + "ln2.b"] = sd[h + "ln_2.bias"]
            p[b + "mlp.W_in"] = sd[h + "mlp.c_fc.weight"]  # [D, M]
            p[b + "mlp.b_in"] = sd[h + "mlp.c_fc.bias"]
            p[b + "mlp.W_out"] = sd[h + "mlp.c_proj.weight"]  # [M, D]
            p[b + "mlp.b_out"] = sd[h + "mlp.c_proj.bias"]
    if cfg.normalization == "LN":
        p["ln_final.w"] = sd["ln_f.weight"]
        p["ln_final.b"] = sd["ln_f.bias"]
    p["unembed.W_U"] = (sd["wte.weight"] if cfg.tied else sd["lm_head.weight"]).t().contiguous()  # [D, V]
    return p


def load_checkpoint(ckpt_dir: str) -> tuple[RefConfig, dict, dict]:
    """Load config.json + model.safetensors from a directory; returns (cfg, TL params, raw HF sd)."""
    with open(f"{ckpt_dir}/config.json") as f:
        cfg = config_from_hf(json.load(f))
    sd, _ = read_safetensors(f"{ckpt_dir}/model.safetensors")
    return cfg, params_from_hf(sd, cfg), sd


# ---------------------------------------------------------------------------------------------
# the forward pass with TransformerLens hooks
# ---------------------------------------------------------------------------------------------


def activation(x: torch.Tensor, act_fn: str) -> torch.Tensor:
    if act_fn == "gelu_new":  # tanh approximation (GPT-2's "gelu_new")
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))
    if act_fn == "gelu":  # exact erf GELU
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if act_fn == "relu":
        return torch.clamp(x, min=0.0)
    raise ValueError(f"unknown act_fn {act_fn!r}")


def layer_norm(x, w, b, eps, name, cache):
    """TransformerLens LayerNorm (not folded), recording <name>.hook_scale and .hook_normalized."""
    x = x - x.mean(-1, keepdim=True)
    scale = (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()  # [B,P,1]
    cache[f"{name}.hook_scale"] = scale
    out = (x / scale) * w + b
    cache[f"{name}.hook_normalized"] = out
    return out


def run_with_cache(params: dict, cfg: RefConfig, tokens: torch.Tensor, dtype=torch.float64, names_filter=None):
    """Forward pass. Returns (logits [B,P,V], cache: OrderedDict hook name -> tensor).

    All parameters are cast to `dtype` (float64 by default, so the goldens are as close to exact
    as possible; the float32 weights upcast losslessly). `names_filter`, if given, is a predicate
    on hook names: only matching hooks are kept in the returned cache (the computation is the same).
    """
    p = {k: v.to(dtype) for k, v in params.items()}
    cache: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    B, P = tokens.shape
    use_ln = cfg.normalization == "LN"

    embed = p["embed.W_E"][tokens]  # [B,P,D]
    cache["hook_embed"] = embed
    resid = embed
    pos_qk = 0.0  # shortformer: what the queries' and keys' inputs add
    if cfg.positional_embeddings:
        pos = p["pos_embed.W_pos"][:P].unsqueeze(0).expand(B, P, cfg.d_model)
        cache["hook_pos_embed"] = pos
        if cfg.shortformer:
            pos_qk = pos
        else:
            resid = embed + pos

    # causal mask: key position s may be attended to from query position q only if s <= q
    causal = torch.tril(torch.ones(P, P, dtype=torch.bool))
    neg_inf = torch.tensor(float("-inf"), dtype=dtype)

    for L in range(cfg.n_layers):
        b = f"blocks.{L}."
        cache[b + "hook_resid_pre"] = resid

        # --- attention ---
        x = layer_norm(resid, p[b + "ln1.w"], p[b + "ln1.b"], cfg.eps, b + "ln1", cache) if use_ln else resid
        q = torch.einsum("bpd,hdk->bphk", x + pos_qk, p[b + "attn.W_Q"]) + p[b + "attn.b_Q"]
        k = torch.einsum("bpd,hdk->bphk", x + pos_qk, p[b + "attn.W_K"]) + p[b + "attn.b_K"]
        v = torch.einsum("bpd,hdk->bphk", x, p[b + "attn.W_V"]) + p[b + "attn.b_V"]
        cache[b + "attn.hook_q"], cache[b + "attn.hook_k"], cache[b + "attn.hook_v"] = q, k, v
        scores = torch.einsum("bqhk,bshk->bhqs", q, k) / math.sqrt(cfg.d_head)
        scores = torch.where(causal, scores, neg_inf)  # -inf above the diagonal, like TransformerLens
        cache[b + "attn.hook_attn_scores"] = scores
        pattern = torch.softmax(scores, dim=-1)
        cache[b + "attn.hook_pattern"] = pattern
        z = torch.einsum("bhqs,bshk->bqhk", pattern, v)
        cache[b + "attn.hook_z"] = z
        result = torch.einsum("bphk,hkd->bphd", z, p[b + "attn.W_O"])
        cache[b + "attn.hook_result"] = result
        attn_out = result.sum(2) + p[b + "attn.b_O"]
        cache[b + "hook_attn_out"] = attn_out

        if cfg.attn_only:
            resid = resid + attn_out
        else:
            resid_mid = resid + attn_out
            cache[b + "hook_resid_mid"] = resid_mid
            x = layer_norm(resid_mid, p[b + "ln2.w"], p[b + "ln2.b"], cfg.eps, b + "ln2", cache) if use_ln else resid_mid
            pre = x @ p[b + "mlp.W_in"] + p[b + "mlp.b_in"]
            cache[b + "mlp.hook_pre"] = pre
            post = activation(pre, cfg.act_fn)
            cache[b + "mlp.hook_post"] = post
            mlp_out = post @ p[b + "mlp.W_out"] + p[b + "mlp.b_out"]
            cache[b + "hook_mlp_out"] = mlp_out
            resid = resid_mid + mlp_out
        cache[b + "hook_resid_post"] = resid

    x = layer_norm(resid, p["ln_final.w"], p["ln_final.b"], cfg.eps, "ln_final", cache) if use_ln else resid
    logits = x @ p["unembed.W_U"]
    if names_filter is not None:
        cache = OrderedDict((k, v) for k, v in cache.items() if names_filter(k))
    return logits, cache


# ---------------------------------------------------------------------------------------------
# independent cross-check: Hugging Face-style forward on the raw HF state dict
# ---------------------------------------------------------------------------------------------


def hf_style_forward(sd: dict, cfg: RefConfig, tokens: torch.Tensor, dtype=torch.float64):
    """A second implementation, written the way HF GPT2Model is: fused c_attn matmul, split into
    heads with view/transpose, explicit python loops over (batch, head, query, key) for the
    attention scores, torch.nn.functional.layer_norm, merge heads, c_proj.

    It works directly on the HF state dict (no W_Q/W_O reshaping), so it independently tests the
    Conv1D -> TransformerLens weight conversion as well as the forward pass. Returns
    (logits, dict) where the dict holds every TransformerLens hook, recomputed this way, under
    that hook's name.
    """
    sd = {k: v.to(dtype) for k, v in strip_prefix(sd).items()}
    F = torch.nn.functional
    B, P = tokens.shape
    H, K, D = cfg.n_heads, cfg.d_head, cfg.d_model
    HK = H * K
    out = {}

    def ln(x, w, bias, name):  # torch's fused layer_norm; the scale hook recomputed from the variance
        out[name + ".hook_scale"] = (x.var(-1, unbiased=False, keepdim=True) + cfg.eps).sqrt()
        y = F.layer_norm(x, (D,), w, bias, cfg.eps)
        out[name + ".hook_normalized"] = y
        return y

    h = sd["wte.weight"][tokens]
    out["hook_embed"] = h
    pos_qk = None
    if cfg.positional_embeddings:
        pos = sd["wpe.weight"][torch.arange(P)].unsqueeze(0)
        out["hook_pos_embed"] = pos.expand(B, P, D)
        if cfg.shortformer:
            pos_qk = pos
        else:
            h = h + pos
    for L in range(cfg.n_layers):
        pre = f"h.{L}."
        b = f"blocks.{L}."
        out[b + "hook_resid_pre"] = h
        x = ln(h, sd[pre + "ln_1.weight"], sd[pre + "ln_1.bias"], b + "ln1") if cfg.normalization == "LN" else h
        qkv = x @ sd[pre + "attn.c_attn.weight"] + sd[pre + "attn.c_attn.bias"]  # [B,P,3HK]
        q, k, v = qkv.split(HK, dim=2)
        if pos_qk is not None:  # shortformer: queries and keys from x + pos, values from x
            q, k, _ = ((x + pos_qk) @ sd[pre + "attn.c_attn.weight"] + sd[pre + "attn.c_attn.bias"]).split(HK, dim=2)

        def split_heads(t):  # [B,P,HK] -> [B,H,P,K]
            return t.view(B, P, H, K).permute(0, 2, 1, 3)

        q, k, v = split_heads(q), split_heads(k), split_heads(v)
        out[b + "attn.hook_q"] = q.permute(0, 2, 1, 3)
        out[b + "attn.hook_k"] = k.permute(0, 2, 1, 3)
        out[b + "attn.hook_v"] = v.permute(0, 2, 1, 3)
        # plain loops: scores, masked softmax and the weighted sum of values
        scores = torch.full((B, H, P, P), float("-inf"), dtype=dtype)
        pattern = torch.zeros(B, H, P, P, dtype=dtype)
        a = torch.zeros(B, H, P, K, dtype=dtype)
        for bi in range(B):
            for hi in range(H):
                for qi in range(P):
                    s = torch.stack([torch.dot(q[bi, hi, qi], k[bi, hi, si]) for si in range(qi + 1)]) / math.sqrt(K)
                    scores[bi, hi, qi, : qi + 1] = s
                    e = torch.exp(s - s.max())
                    w = e / e.sum()
                    pattern[bi, hi, qi, : qi + 1] = w
                    acc = torch.zeros(K, dtype=dtype)
                    for si in range(qi + 1):
                        acc = acc + w[si] * v[bi, hi, si]
                    a[bi, hi, qi] = acc
        out[b + "attn.hook_attn_scores"] = scores
        out[b + "attn.hook_pattern"] = pattern
        out[b + "attn.hook_z"] = a.permute(0, 2, 1, 3)
        merged = a.permute(0, 2, 1, 3).reshape(B, P, HK)  # merge heads
        attn_out = merged @ sd[pre + "attn.c_proj.weight"] + sd[pre + "attn.c_proj.bias"]
        # per-head contribution: head h's slice of merged times rows h*K..(h+1)*K of c_proj
        out[b + "attn.hook_result"] = torch.stack(
            [merged[..., hi * K : (hi + 1) * K] @ sd[pre + "attn.c_proj.weight"][hi * K : (hi + 1) * K] for hi in range(H)], dim=2
        )
        out[b + "hook_attn_out"] = attn_out
        h = h + attn_out
        if not cfg.attn_only:
            out[b + "hook_resid_mid"] = h
            x = ln(h, sd[pre + "ln_2.weight"], sd[pre + "ln_2.bias"], b + "ln2") if cfg.normalization == "LN" else h
            fc = x @ sd[pre + "mlp.c_fc.weight"] + sd[pre + "mlp.c_fc.bias"]
            out[b + "mlp.hook_pre"] = fc
            if cfg.act_fn == "gelu":
                act = F.gelu(fc)
            elif cfg.act_fn == "gelu_new":
                act = F.gelu(fc, approximate="tanh")
            else:
                act = F.relu(fc)
            out[b + "mlp.hook_post"] = act
            mlp_out = act @ sd[pre + "mlp.c_proj.weight"] + sd[pre + "mlp.c_proj.bias"]
            out[b + "hook_mlp_out"] = mlp_out
            h = h + mlp_out
        out[b + "hook_resid_post"] = h
    if cfg.normalization == "LN":
        h = ln(h, sd["ln_f.weight"], sd["ln_f.bias"], "ln_final")
    w_u = sd["wte.weight"] if cfg.tied else sd["lm_head.weight"]  # [V,D]
    logits = F.linear(h, w_u)
    return logits, out
