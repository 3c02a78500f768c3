"""Independent PyTorch reference for package sae (SAELens semantics, written from SAELens's
standard/topk/batchtopk/jumprelu SAE code, not from the Go implementation).

    /usr/bin/python3 sae/testdata/torch_sae_ref.py encode SAE_DIR IN.safetensors OUT.safetensors
        Loads an SAE in the SAELens layout (cfg.json + sae_weights.safetensors) and writes the
        latents "f" [N, d_sae] and the reconstruction "recon" [N, d_in] of the rows "x" in IN.

    /usr/bin/python3 sae/testdata/torch_sae_ref.py step IN.safetensors OUT.safetensors
        Runs training steps: IN holds the initial tensors (W_enc, b_enc, W_dec, b_dec, threshold),
        the batches "x" [steps, N, d_in] (and, for a transcoder, targets "y" [steps, N, d_out] and
        a skip matrix "W_skip" [d_out, d_in]) and, in its metadata "cfg", the options (arch, k, lr per
        step, coefficient, bandwidth, betas, eps, aux coefficient, dead window and initial
        rows-since-fire, unit-norm decoder). Writes the tensors after the last step.

The Go tests (sae/reference_test.go) call it and skip when torch is missing. Only torch and the
standard library are needed (safetensors files are read and written by hand).
"""
import json
import struct
import sys

import torch

DT = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}
ST = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.int32: "I32"}


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:e]), dtype=DT[info["dtype"]]) if e > b else torch.zeros(0, dtype=DT[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out, meta


def write_st(path, tensors):
    header, chunks, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": ST[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


def rectangle(x):
    return ((x > -0.5) & (x < 0.5)).to(x)


class Step(torch.autograd.Function):
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


class JumpReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, threshold, bandwidth):
        ctx.save_for_backward(x, threshold)
        ctx.bandwidth = bandwidth
        return x * (x > threshold)

    @staticmethod
    def backward(ctx, g):
        x, threshold = ctx.saved_tensors
        bw = ctx.bandwidth
        x_grad = (x > threshold) * g
        t_grad = torch.sum(-(threshold / bw) * rectangle((x - threshold) / bw) * g, dim=0)
        return x_grad, t_grad, None


def topk_act(pre, k):
    v, i = torch.topk(pre, k, dim=-1)
    return torch.zeros_like(pre).scatter(-1, i, v.relu())


def batchtopk_act(pre, k):
    acts = pre.relu()
    flat = acts.flatten()
    v, i = torch.topk(flat, int(k * acts.shape[0]), dim=-1)
    return torch.zeros_like(flat).scatter(-1, i, v).reshape(acts.shape)


def encode(cfg, p, x, training=False, bandwidth=0.05):
    arch = cfg["architecture"]
    sae_in = x - p["b_dec"] if cfg.get("apply_b_dec_to_input", True) else x
    if arch == "gated":
        # SAELens GatedSAE.encode: the gate picks the latents, the magnitude path (W_enc rescaled
        # per latent by exp(r_mag)) sets their values.
        pi_gate = sae_in @ p["W_enc"] + p["b_gate"]
        mag = (sae_in @ (p["W_enc"] * torch.exp(p["r_mag"])) + p["b_mag"]).relu()
        return (pi_gate > 0).to(x) * mag, pi_gate
    pre = sae_in @ p["W_enc"] + p["b_enc"]
    if arch == "standard":
        f = pre.relu()
    elif arch == "topk":
        f = topk_act(pre, cfg["k"])
    elif arch == "batchtopk":
        f = batchtopk_act(pre, cfg["k"])
    elif arch == "jumprelu":
        if training:
            f = JumpReLU.apply(pre, p["threshold"].relu(), bandwidth)
        else:
            f = pre.relu() * (pre > p["threshold"].relu())
    else:
        raise SystemExit(f"unknown architecture {arch}")
    return f, pre


def cmd_encode(sae_dir, in_path, out_path):
    cfg = json.load(open(f"{sae_dir}/cfg.json"))
    p, _ = read_st(f"{sae_dir}/sae_weights.safetensors")
    if cfg["architecture"] == "topk" and "k" not in cfg:
        cfg["k"] = cfg["activation_fn_kwargs"]["k"]
    x = read_st(in_path)[0]["x"]
    with torch.no_grad():
        f, _ = encode(cfg, p, x)
        recon = f @ p["W_dec"] + p["b_dec"]
    write_st(out_path, {"f": f, "recon": recon})


def cmd_step(in_path, out_path):
    ts, meta = read_st(in_path)
    o = json.loads(meta["cfg"])
    arch = o["architecture"]
    names = ["W_enc", "b_enc", "W_dec", "b_dec"] + (["threshold"] if arch == "jumprelu" else [])
    if arch == "gated":
        names = ["W_enc", "b_gate", "W_dec", "b_dec", "r_mag", "b_mag"]
    names += ["W_skip"] if "W_skip" in ts else []
    p = {n: torch.nn.Parameter(ts[n].clone()) for n in names}
    opt = torch.optim.Adam(list(p.values()), lr=o["lr"][0], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
    since = ts["since_fire"].clone().to(torch.int64)
    xs = ts["x"]
    ys = ts.get("y", xs)  # transcoders: a separate target
    for step in range(xs.shape[0]):
        x, y = xs[step], ys[step]
        n = x.shape[0]
        for g in opt.param_groups:
            g["lr"] = o["lr"][step]
        dead = since >= o["dead_window"]
        f, pre = encode(o, p, x, training=True, bandwidth=o["bandwidth"])
        recon = f @ p["W_dec"] + p["b_dec"]
        if "W_skip" in p:
            recon = recon + x @ p["W_skip"].T
        loss = (recon - y).pow(2).sum(-1).mean()
        # Matryoshka (SAELens MatryoshkaBatchTopKTrainingSAE): each prefix of the latents
        # reconstructs the input on its own (b_dec included), its error added to the loss.
        for w in o.get("matryoshka") or []:
            inner = f[:, :w] @ p["W_dec"][:w] + p["b_dec"]
            loss = loss + (inner - y).pow(2).sum(-1).mean()
        if arch == "gated":
            # SAELens GatedTrainingSAE: L1 on ReLU(pi_gate) scaled by decoder norms, and the
            # gate's own reconstruction through the frozen decoder.
            pi_act = pre.relu()
            loss = loss + (o["coef"] * (pi_act * p["W_dec"].norm(dim=1)).sum(dim=-1)).mean()
            via_gate = pi_act @ p["W_dec"].detach() + p["b_dec"].detach()
            loss = loss + (via_gate - x).pow(2).sum(-1).mean()
        elif arch == "standard" and o.get("ref_norm"):
            # sae-circuits' SAE: a plain L1 penalty (its decoder rows are not unit norm).
            loss = loss + (o["coef"] * f.norm(p=1, dim=-1)).mean()
        elif arch == "standard":
            loss = loss + (o["coef"] * (f * p["W_dec"].norm(dim=1)).norm(p=1, dim=-1)).mean()
        elif arch == "jumprelu":
            l0 = torch.sum(Step.apply(pre, p["threshold"].relu(), o["bandwidth"]), dim=-1)
            loss = loss + (o["coef"] * l0).mean()
        elif o["aux_coef"] > 0 and int(dead.sum()) > 0:
            nd = int(dead.sum())
            residual = (y - recon).detach()
            k_aux = x.shape[-1] // 2
            scale = min(nd / k_aux, 1.0)
            k_aux = min(k_aux, nd)
            lat = torch.where(dead[None], pre, torch.tensor(-float("inf")))
            top = lat.topk(k_aux, sorted=False)
            acts = torch.zeros_like(pre).scatter(-1, top.indices, top.values)
            loss = loss + o["aux_coef"] * scale * (acts @ p["W_dec"] - residual).pow(2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        if o["unit_norm"]:
            with torch.no_grad():
                w = p["W_dec"]
                wn = w / w.norm(dim=1, keepdim=True)
                p["W_dec"].grad -= (p["W_dec"].grad * wn).sum(dim=1, keepdim=True) * wn
        if o.get("ref_norm"):
            # ConstrainedUnitNormLinear (sae-circuits src/sae.py): its encoder weight [d_sae, d_in]
            # and decoder weight [d_in, d_sae] are unit norm along their last axis, i.e. the columns
            # of W_enc [d_in, d_sae] and of W_dec [d_sae, d_in] here; the backward hook removes the
            # gradient's component along them, and they are renormalised before the next forward.
            with torch.no_grad():
                for name in ("W_enc", "W_dec"):
                    w = p[name]
                    wn = w / w.norm(dim=0, keepdim=True)
                    w.grad -= (w.grad * wn).sum(dim=0, keepdim=True) * wn
        opt.step()
        if o.get("ref_norm"):
            with torch.no_grad():
                for name in ("W_enc", "W_dec"):
                    p[name].data /= p[name].data.norm(dim=0, keepdim=True)
        if o["unit_norm"]:
            with torch.no_grad():
                p["W_dec"].data /= p["W_dec"].data.norm(dim=1, keepdim=True)
        fired = (f > 0).sum(0) > 0
        since = torch.where(fired, torch.zeros_like(since), since + n)
    write_st(out_path, {k: v.data for k, v in p.items()})


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1] == "encode":
        cmd_encode(*sys.argv[2:5])
    elif sys.argv[1] == "step":
        cmd_step(*sys.argv[2:4])
    else:
        raise SystemExit(__doc__)
