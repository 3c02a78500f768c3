"""Independent reference for heads.FromPatterns: TransformerLens's head detector formulas
(get_*_detection_pattern + compute_head_attention_similarity_score, error_measure "mul"),
written in PyTorch. Reads {"tokens": [[...]], "patterns": [L][B][H][P][P], "exclude_bos",
"exclude_current_token"} on stdin, writes {"previous_token_head": [L][H], ...} on stdout."""
import json, sys
import torch

def prev_token(tokens):
    n = tokens.shape[-1]
    d = torch.zeros(n, n)
    d[1:, :-1] = torch.eye(n - 1)
    return torch.tril(d)

def duplicate_token(tokens):
    n = tokens.shape[-1]
    rep = tokens.repeat(n, 1)
    eq = (rep == rep.T).int()
    eq.fill_diagonal_(0)
    return torch.tril(eq.float())

def induction(tokens):
    dup = duplicate_token(tokens)
    shifted = torch.roll(dup, shifts=1, dims=1)
    zeros = torch.zeros(dup.shape[0], 1)
    return torch.tril(torch.cat((zeros, shifted[:, 1:]), dim=1))

def score(att, det, exclude_bos, exclude_current):
    att = att.clone()
    if exclude_bos:
        att[:, 0] = 0
    if exclude_current:
        att.fill_diagonal_(0)
    return ((att * det).sum() / att.sum()).item()

req = json.load(sys.stdin)
tokens = torch.tensor(req["tokens"])
pats = torch.tensor(req["patterns"], dtype=torch.float64)  # [L, B, H, P, P]
L, B, H = pats.shape[:3]
out = {}
for name, fn in [("previous_token_head", prev_token), ("duplicate_token_head", duplicate_token), ("induction_head", induction)]:
    res = torch.zeros(L, H, dtype=torch.float64)
    for b in range(B):
        det = fn(tokens[b])
        for l in range(L):
            for h in range(H):
                res[l, h] += score(pats[l, b, h], det, req["exclude_bos"], req["exclude_current_token"]) / B
    out[name] = res.tolist()
json.dump(out, sys.stdout)
