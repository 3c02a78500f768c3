"""PyTorch CPU reference timing for the attribution-graph benchmark of docs/PERFORMANCE.md (issue 15).

    /usr/bin/python3 bench/torch_attrgraph.py [--active 8] [--runs 1]

The same computation as interp's attrgraph.Build (BenchmarkGraphGPT2Small), written in eager
PyTorch: a GPT-2-small-shaped random model (12 layers, d_model 768, 12 heads, d_mlp 3072, vocabulary
50257, learned positions, tied embeddings, LayerNorm), a 64-token random prompt, per-layer ReLU
transcoders of 6144 latents on every layer reading ln2's output and writing hook_mlp_out, their
encoder biases set so that ACTIVE latents per position and layer are active on the prompt. Timed:
the forward pass (caching what the graph freezes), encoding, error nodes, the logit nodes (top
tokens until p 0.95, at most 10, demeaned unembedding), then the attribution rows of the logits
and of every active feature by batched backward passes through the frozen residual stream,
LayerNorms held at their scales and attention OV circuits with patterns held (256 targets a
batch, highest layers first, each batch starting at its highest layer), and the square adjacency.
Prints one JSON object: seconds (median and min over --runs), features, logits, peak_rss_gib.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

L, D, H, K, M, V, P, FEAT, BATCH = 12, 768, 12, 64, 3072, 50257, 64, 6144, 256


def peak_rss_gib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / (1 << 20)
    return -1


def gelu_new(x):
    return 0.5 * x * (1 + torch.tanh(0.7978845608028654 * (x + 0.044715 * x.pow(3))))


def rows_of(n, norm, d):
    w = torch.randn(n, d)
    return w * (norm / w.norm(dim=1, keepdim=True))


def make(active):
    torch.manual_seed(0)
    r = lambda *s: torch.randn(*s) * 0.02
    model = dict(E=r(V, D), Pos=r(1024, D), lnf_w=torch.ones(D), lnf_b=torch.zeros(D), layers=[])
    for _ in range(L):
        model["layers"].append(dict(
            ln1_w=torch.ones(D), ln1_b=torch.zeros(D), ln2_w=torch.ones(D), ln2_b=torch.zeros(D),
            WQ=r(H, D, K), WK=r(H, D, K), WV=r(H, D, K), WO=r(H, K, D), bQ=torch.zeros(H, K), bK=torch.zeros(H, K),
            bV=torch.zeros(H, K), bO=torch.zeros(D), Win=r(D, M), bin=torch.zeros(M), Wout=r(M, D), bout=torch.zeros(D)))
    tcs = [dict(W_enc=rows_of(FEAT, 0.1, D).T.contiguous(), W_dec=rows_of(FEAT, 0.1, D), b_dec=torch.zeros(D)) for _ in range(L)]
    tokens = torch.randint(0, V, (P,))
    # The encoder biases: a quantile of each layer's pre-activations on the prompt (not timed).
    cache = forward(model, tokens)
    for l, tc in enumerate(tcs):
        pre = (cache["x2"][l] @ tc["W_enc"]).flatten()
        th = pre.sort().values[-active * P - 1]
        tc["b_enc"] = torch.full((FEAT,), -float(th))
    return model, tcs, tokens


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdim=True)
    xc = x - mu
    scale = (xc.pow(2).mean(-1, keepdim=True) + 1e-5).sqrt()
    return xc / scale * w + b, scale


def forward(model, tokens):
    """One forward pass (batch 1), caching what the graph needs."""
    x = model["E"][tokens] + model["Pos"][:P]
    cache = dict(embed=x.clone(), s1=[], s2=[], x2=[], pattern=[], mlp_out=[])
    mask = torch.full((P, P), float("-inf")).triu(1)
    for w in model["layers"]:
        h, s1 = layer_norm(x, w["ln1_w"], w["ln1_b"])
        q = torch.einsum("pd,hdk->hpk", h, w["WQ"]) + w["bQ"][:, None]
        k = torch.einsum("pd,hdk->hpk", h, w["WK"]) + w["bK"][:, None]
        v = torch.einsum("pd,hdk->hpk", h, w["WV"]) + w["bV"][:, None]
        pattern = torch.softmax(q @ k.transpose(1, 2) / K ** 0.5 + mask, -1)  # [H, Pq, Pk]
        z = pattern @ v  # [H, P, K]
        x = x + torch.einsum("hpk,hkd->pd", z, w["WO"]) + w["bO"]
        h2, s2 = layer_norm(x, w["ln2_w"], w["ln2_b"])
        out = gelu_new(h2 @ w["Win"] + w["bin"]) @ w["Wout"] + w["bout"]
        x = x + out
        for name, val in (("s1", s1), ("s2", s2), ("x2", h2), ("pattern", pattern), ("mlp_out", out)):
            cache[name].append(val)
    xf, sf = layer_norm(x, model["lnf_w"], model["lnf_b"])
    cache["sf"] = sf
    cache["logits"] = xf @ model["E"].T
    return cache


def graph(model, tcs, tokens):
    cache = forward(model, tokens)
    lat, errs, feats = [], [], []  # feats: (layer, pos, index, act)
    for l, tc in enumerate(tcs):
        f = F.relu(cache["x2"][l] @ tc["W_enc"] + tc["b_enc"])  # [P, F]
        lat.append(f)
        errs.append(cache["mlp_out"][l] - (f @ tc["W_dec"] + tc["b_dec"]))
        pos, idx = f.nonzero(as_tuple=True)
        feats += [(l, int(p), int(i), float(f[p, i])) for p, i in zip(pos, idx)]
    # Logit nodes.
    probs = torch.softmax(cache["logits"][-1], -1)
    order = probs.argsort(descending=True)
    toks, cum = [], 0.0
    for t in order[:10].tolist():
        toks.append(t)
        cum += float(probs[t])
        if cum >= 0.95:
            break
    WU = model["E"].T  # [D, V]
    lvecs = (WU[:, toks] - WU.mean(1, keepdim=True)).T.contiguous()  # [nL, D]

    by_layer = [[i for i, f in enumerate(feats) if f[0] == l] for l in range(L)]
    dec_pos = [torch.tensor([feats[i][1] for i in by_layer[l]], dtype=torch.long) for l in range(L)]
    dec_vec = [torch.stack([feats[i][3] * tcs[l]["W_dec"][feats[i][2]] for i in by_layer[l]]) if by_layer[l] else torch.zeros(0, D)
               for l in range(L)]
    WO2 = [w["WO"].reshape(H * K, D) for w in model["layers"]]  # [HK, D]
    WV2 = [w["WV"].permute(0, 2, 1).reshape(H * K, D) for w in model["layers"]]  # [HK, D]

    def pullback(v, w, scale):
        y = v * w
        return (y - y.mean(-1, keepdim=True)) / scale

    def attn_t(k, v):  # v [B, P, D] at attn_out -> [B, P, D] at ln1's output
        B = v.shape[0]
        u = (v @ WO2[k].T).view(B, P, H, K)
        z = torch.einsum("hts,bthk->bshk", cache["pattern"][k], u)
        return z.reshape(B, P, H * K) @ WV2[k]

    def backward(top, tl, tp, tv):
        B = tv.shape[0]
        def inject(k):
            g = torch.zeros(B, P, D)
            sel = (tl == k).nonzero(as_tuple=True)[0]
            g[sel, tp[sel]] = tv[sel]
            return g
        grad = torch.zeros(B, P, D)
        if top == L:
            grad = pullback(inject(L), model["lnf_w"], cache["sf"])
        fparts, eparts = [None] * L, [None] * L
        for k in range(L - 1, -1, -1):
            if top < L and k >= top:
                fparts[k], eparts[k] = torch.zeros(B, len(by_layer[k])), torch.zeros(B, P)
                if k > top:
                    continue
            else:
                fparts[k] = torch.einsum("bnd,nd->bn", grad[:, dec_pos[k]], dec_vec[k])
                eparts[k] = torch.einsum("bpd,pd->bp", grad, errs[k])
            w = model["layers"][k]
            grad = grad + pullback(inject(k), w["ln2_w"], cache["s2"][k])
            grad = grad + pullback(attn_t(k, grad), w["ln1_w"], cache["s1"][k])
        return torch.cat(fparts + eparts + [torch.einsum("bpd,pd->bp", grad, cache["embed"])], 1)

    rows, node = [], []
    nL = len(toks)
    for s in range(0, nL, BATCH):
        e = min(s + BATCH, nL)
        out = backward(L, torch.full((e - s,), L), torch.full((e - s,), P - 1), lvecs[s:e])
        rows.append(out)
        node += [-1 - i for i in range(s, e)]
    pending = sorted(range(len(feats)), key=lambda i: -feats[i][0])
    for s in range(0, len(pending), BATCH):
        batch = pending[s:s + BATCH]
        tl = torch.tensor([feats[i][0] for i in batch])
        tp = torch.tensor([feats[i][1] for i in batch])
        tv = torch.stack([tcs[feats[i][0]]["W_enc"][:, feats[i][2]] for i in batch])
        rows.append(backward(int(tl.max()), tl, tp, tv))
        node += batch
    rows = torch.cat(rows)
    nF = len(feats)
    N = nF + (L + 1) * P + nL
    adj = torch.zeros(N, N)
    target = torch.tensor([n if n >= 0 else nF + (L + 1) * P + (-1 - n) for n in node])
    # rows' columns: features in by-layer order, then errors and tokens.
    col = torch.tensor([i for l in range(L) for i in by_layer[l]] + list(range(nF, nF + (L + 1) * P)))
    adj[target[:, None], col[None, :]] = rows
    return adj, nF, nL


def main():
    args = sys.argv[1:]
    active = int(args[args.index("--active") + 1]) if "--active" in args else 8
    runs = int(args[args.index("--runs") + 1]) if "--runs" in args else 1
    torch.set_grad_enabled(False)
    model, tcs, tokens = make(active)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        adj, nF, nL = graph(model, tcs, tokens)
        times.append(time.perf_counter() - t0)
        del adj
    print(json.dumps(dict(bench="attrgraph", torch=torch.__version__, threads=torch.get_num_threads(), active=active,
                          seconds_median=statistics.median(times), seconds_min=min(times), features=nF, logits=nL,
                          peak_rss_gib=peak_rss_gib())))


if __name__ == "__main__":
    main()
