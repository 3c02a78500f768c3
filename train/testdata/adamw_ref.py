"""PyTorch reference for train.Run's optimizer (train/torch_test.go runs it).

    /usr/bin/python3 train/testdata/adamw_ref.py DIR

DIR holds what the Go test wrote: config.json (the model config in Hugging Face form, read by
testdata/ref/gpt2_ref.py), init.safetensors (initial weights by TransformerLens name),
batch.json ({"tokens": [[...]], "mask": [[0/1...]]}, the batch of every step) and run.json (the
train.Config). This script trains from the same weights on the same batch with torch's own
pieces -- torch.optim.AdamW (weight decay only on W_* tensors), torch.nn.utils.clip_grad_norm_ and
a LambdaLR warmup + cosine schedule written from the documented formula -- and the independent
forward pass of testdata/ref/gpt2_ref.py, in float64. It writes DIR/ref.safetensors: the final
weights under their names, "losses" [steps], "grad_norms" [steps] (before clipping) and "grad.NAME" [steps, *shape], the
gradient of each tensor at every step (before clipping), from which the Go test derives its
per-entry tolerances.
"""
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "testdata", "ref"))
import gpt2_ref  # noqa: E402


def main(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = gpt2_ref.config_from_hf(json.load(f))
    with open(os.path.join(d, "run.json")) as f:
        run = json.load(f)
    with open(os.path.join(d, "batch.json")) as f:
        batch = json.load(f)
    init, _ = gpt2_ref.read_safetensors(os.path.join(d, "init.safetensors"))
    params = {k: torch.nn.Parameter(v.to(torch.float64)) for k, v in init.items()}
    tokens = torch.tensor(batch["tokens"], dtype=torch.long)
    mask = torch.tensor(batch["mask"], dtype=torch.float64)

    decay = [p for n, p in params.items() if n.split(".")[-1].startswith("W_")]
    rest = [p for n, p in params.items() if not n.split(".")[-1].startswith("W_")]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": run["weight_decay"]}, {"params": rest, "weight_decay": 0.0}],
        lr=run["lr"], betas=(run["beta1"], run["beta2"]), eps=run["eps"])
    steps, warm, min_lr = run["steps"], run["warmup_steps"], run["min_lr"]

    def factor(s):  # multiplier of lr at step s (0-based)
        if s < warm:
            return (s + 1) / warm
        frac = min((s - warm) / max(steps - 1 - warm, 1), 1.0)
        return min_lr + (1 - min_lr) * 0.5 * (1 + math.cos(math.pi * frac))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    losses, norms, grads = [], [], {}
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        logits, _ = gpt2_ref.run_with_cache(params, cfg, tokens, dtype=torch.float64, names_filter=lambda n: False)
        logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, tokens[:, 1:, None])[..., 0]
        loss = -(logp * mask).sum() / mask.sum().clamp(min=1)
        loss.backward()
        for n, p in params.items():
            grads.setdefault(n, []).append(p.grad.detach().clone())
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), run["grad_clip"])
        opt.step()
        sched.step()
        losses.append(loss.item())
        norms.append(norm.item())
    out = {k: v.detach().to(torch.float32) for k, v in params.items()}
    out["losses"] = torch.tensor(losses, dtype=torch.float64)
    out["grad_norms"] = torch.tensor(norms, dtype=torch.float64)
    for n, g in grads.items():
        out["grad." + n] = torch.stack(g).to(torch.float64)  # [steps, *shape]
    gpt2_ref.write_safetensors(os.path.join(d, "ref.safetensors"), out)


if __name__ == "__main__":
    main(sys.argv[1])
