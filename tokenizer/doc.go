// Package tokenizer converts text to token ids and back for the models this
// project interprets, in pure Go and offline.
//
// Three sources of tokenizers are supported:
//
//   - [GPT2] returns GPT-2's byte-level BPE tokenizer (the r50k_base
//     vocabulary, 50257 tokens). The vocabulary is compiled into the binary
//     via github.com/tiktoken-go/tokenizer, so no files or network are
//     needed. It matches Hugging Face's GPT-2 tokenizer and tiktoken, e.g.
//     "Hello world" is [15496 995] and " Mary" is 5335.
//   - [FromDir] reads a model directory: a Hugging Face tokenizer.json (BPE
//     with a ByteLevel pre-tokenizer, or WordLevel, see [FromTokenizerJSON])
//     or else GPT-2 style vocab.json + merges.txt ([FromVocabMerges]).
//   - [FromHFTokenizersFile] loads any tokenizer.json through the Rust
//     tokenizers library (github.com/daulet/tokenizers). It is only
//     available when built with -tags hftokenizers, which requires that
//     library's prebuilt libtokenizers.a; the default build does not need it.
//
// [ForModel] picks one of them from a model directory and a tokenizer name.
//
// All tokenizers implement [Tokenizer]. Encode adds no BOS token: callers that
// want TransformerLens's prepend_bos behaviour prepend [GPT2EndOfText] (or
// their model's BOS id) themselves. Special tokens written in the text, such
// as "<|endoftext|>", are encoded as their id. [Tokenizer.TokenString] gives
// readable per-token labels for plots, and [SingleToken] checks that a word
// (e.g. an IOI name) is exactly one token.
//
// Byte-level BPE follows GPT-2: text is split by the pre-tokenization regex
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// (implemented by hand, since Go's regexp has no lookahead), each piece's
// bytes are mapped through GPT-2's bytes_to_unicode table, and merges are
// applied lowest rank first. [WriteGPT2Files] writes GPT-2's vocab.json and
// merges.txt, rebuilt offline from the embedded ranks.
package tokenizer
