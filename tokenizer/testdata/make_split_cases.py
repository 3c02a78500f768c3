"""Expected pieces of the Llama 3 and Qwen 2 Split(Regex, Isolated) pre-tokenizers.

    /usr/bin/python3 tokenizer/testdata/make_split_cases.py     # needs Debian's python3-regex

The patterns are those of the models' tokenizer.json files (Llama 3's is also tiktoken's cl100k_base;
Qwen 2 splits digits one by one). Pieces are every match of the pattern and every stretch between
matches, in order -- Hugging Face's "Isolated" behaviour -- computed with the `regex` module, an
independent engine from the Go side's github.com/dlclark/regexp2.
"""

import json
import os
import random

import regex

PATTERNS = {
    "llama3": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "qwen2": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
}
TEXTS = [
    "Hello world",
    "I'm sure they'LL say it's 12345 or 1,234.5678",
    "  leading spaces,   three inside\tand a tab\n\nnew  \n lines",
    "When Mary and John went to the store, John gave a drink to",
    "Ünïcödé naïve café — 東京 にほんご 123四五",
    "emoji 🙂🙃 and symbols +-*/ $100 #tag @user",
    "trailing spaces   ",
    "x\r\ny\r\n\r\nz",
    "'s's'S don't DON'T",
    "",
    # Unicode whitespace: \s is White_Space (no-break space, ideographic space), not ASCII only.
    " \u00a0 \u00a0",
    "a\u3000b\u00a0 c\u2003\u2003d",
    "\r\n    \r\n",
    "   \n    \n\t\n",
]
# Random strings over an alphabet that exercises the pattern (fixed seed).
_rng = random.Random(7)
_ALPHABET = "aZé日 '  \t\n\r\u00a0\u3000sltrevmd1٣½.,!?-_🙂\u0301'S'LL"
TEXTS += ["".join(_rng.choice(_ALPHABET) for _ in range(_rng.randrange(30))) for _ in range(200)]


def isolated(pattern, text):
    out, prev = [], 0
    for m in regex.finditer(pattern, text):
        if m.start() > prev:
            out.append(text[prev : m.start()])
        if m.end() > m.start():
            out.append(m.group())
        prev = m.end()
    if prev < len(text):
        out.append(text[prev:])
    return out


cases = {name: {"pattern": p, "cases": [{"text": t, "pieces": isolated(p, t)} for t in TEXTS]} for name, p in PATTERNS.items()}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "split_cases.json"), "w") as f:
    json.dump(cases, f, ensure_ascii=False, indent=1)
print("wrote split_cases.json")
