"""Independent PyTorch reference for the cross-layer transcoder's training loss (package
transcoder, clt_train.go), written from the definitions in Ameisen et al. 2025 ("Circuit
tracing", the CLT and its tanh sparsity penalty) and Rajamanoharan et al. 2024 (JumpReLU and its
straight-through estimator), not from the Go code.

    /usr/bin/python3 transcoder/testdata/torch_clt_ref.py IN.safetensors OUT.safetensors

IN holds x [N, L, DIn], y [N, L, D] and, per layer l, W_enc_l [DIn, F], b_enc_l [F],
W_dec_l [F, L-l, D], b_dec_l [D] and (jumprelu) threshold_l [F]; its metadata "cfg" is JSON with
arch (relu, jumprelu, topk), k, coef, tanh_scale and bandwidth. OUT gets "loss" [1] and the
gradient of the loss with respect to every tensor, named grad_<name>, in float64.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sae", "testdata"))
from torch_sae_ref import read_st, write_st  # noqa: E402  (the hand-written safetensors reader)


class JumpReLU(torch.autograd.Function):
    """f = pre * H(pre - theta); d f/d pre = H, d f/d theta = -(theta/eps) rect((pre - theta)/eps)."""

    @staticmethod
    def forward(ctx, pre, theta, eps):
        ctx.save_for_backward(pre, theta)
        ctx.eps = eps
        return pre * (pre > theta).to(pre)

    @staticmethod
    def backward(ctx, g):
        pre, theta = ctx.saved_tensors
        eps = ctx.eps
        window = ((pre - theta).abs() < eps / 2).to(pre)
        d_theta = -(theta / eps) * window * g
        return g * (pre > theta).to(pre), d_theta, None


def main():
    tensors, meta = read_st(sys.argv[1])
    cfg = json.loads(meta["cfg"])
    x, y = tensors["x"].double(), tensors["y"].double()
    N, L, _ = x.shape
    params = {k: v.double().requires_grad_(True) for k, v in tensors.items() if k not in ("x", "y")}
    recon = torch.zeros_like(y)
    sparsity = torch.zeros((), dtype=torch.float64)
    for l in range(L):
        pre = x[:, l] @ params[f"W_enc_{l}"] + params[f"b_enc_{l}"]
        if cfg["arch"] == "relu":
            f = torch.relu(pre)
        elif cfg["arch"] == "topk":
            top = torch.topk(pre, cfg["k"], dim=1)
            f = torch.zeros_like(pre).scatter(1, top.indices, torch.relu(top.values))
        else:
            theta = params[f"threshold_{l}"].clamp(min=0)
            f = JumpReLU.apply(pre, theta.unsqueeze(0).expand_as(pre), cfg["bandwidth"])
        w_dec = params[f"W_dec_{l}"]  # [F, L-l, D]
        recon[:, l:] = recon[:, l:] + torch.einsum("nf,fmd->nmd", f, w_dec)
        norms = w_dec.pow(2).sum(dim=(1, 2)).sqrt()  # [F]
        if cfg["arch"] == "relu":
            sparsity = sparsity + (f * norms).sum() / N
        elif cfg["arch"] == "jumprelu":
            sparsity = sparsity + torch.tanh(cfg["tanh_scale"] * f * norms).sum() / N
    recon = recon + torch.stack([params[f"b_dec_{l}"] for l in range(L)])
    loss = (recon - y).pow(2).sum() / N
    if cfg["arch"] != "topk":
        loss = loss + cfg["coef"] * sparsity
    names = sorted(params)
    grads = torch.autograd.grad(loss, [params[n] for n in names])
    out = {"loss": loss.detach().reshape(1)}
    for n, g in zip(names, grads):
        out["grad_" + n] = g
    write_st(sys.argv[2], out)


if __name__ == "__main__":
    main()
