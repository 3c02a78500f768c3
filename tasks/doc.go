// Package tasks makes the data that trains and probes the models of this
// project: deterministic synthetic tasks for training (the induction-head
// formation study) and clean/corrupted prompt pairs with answers for
// activation patching and circuit discovery.
//
// A Task gives training batches, Batch(rng, B), and patching pairs,
// Pairs(seed, N). Batch depends only on the math/rand/v2 generator passed in
// and Pairs only on its seed, so the same seed gives the same data.
//
// # Training batches
//
// Batch.Tokens is [B][P]. Batch.LossMask is [B][P-1]: entry p says whether
// predicting token p+1 from position p counts in the loss, so the masked
// cross-entropy is
//
//	loss = sum_{b,p} mask[b][p] * -log softmax(logits[b, p])[tokens[b][p+1]] / sum mask
//
// A nil LossMask means every position counts.
//
// # Patching pairs
//
// Pairs holds clean and corrupted prompts of one length, and per row the
// position Pos whose logits are scored, the correct token Answer and the
// wrong token Wrong. The logit difference of a run is
//
//	LD = mean_i logits[i, Pos[i], Answer[i]] - logits[i, Pos[i], Wrong[i]]
//
// and a patch's normalised score is (LD - LD_corrupted) / (LD_clean -
// LD_corrupted). greater-than also fills AnswerSets and WrongSets (all years
// above and not above the start year) for probability-difference metrics.
//
// # The tasks
//
// Synthetic tasks (Options.Vocab and SeqLen default to 64; id 0 is a BOS at
// position 0 only):
//
//   - "induction": [BOS, t1..tL, t1..tL] with random t in [1, Vocab),
//     L = InductionHalf(SeqLen); every position counts. Pairs: the corrupted
//     second half is fresh random tokens; Pos = P-2, Answer = the repeat's
//     next token, Wrong = the corrupted sequence's token there.
//   - "assoc-recall": [BOS, k1, v1, .., kn, vn, q, v_q], keys and values from
//     disjoint id ranges; only v_q counts. Pairs: the corrupted sequence gives
//     the queried key a new value, which is Wrong.
//   - "icl-classify": bursty few-shot classification (Chan et al. 2022;
//     Singh et al. 2024): exemplar-label pairs, classes are clusters of
//     ICLClusterSize exemplar ids, the ICLLabels labels are reassigned to
//     classes in every sequence, the final query's class is in the context.
//     Every label prediction counts. Pairs: the corrupted context swaps the
//     query's label with another class's. "icl-classify:labels=K" uses K
//     labels, and so K classes in each sequence (default ICLLabels = 4).
//
// Text tasks (prompts start with the tokenizer's "<|endoftext|>" as BOS, as
// TransformerLens's prepend_bos does, unless Options.NoBOS):
//
//   - "ioi": indirect object identification (Wang et al. 2022) with the 15
//     BABA templates and their ABBA forms on a toy word vocabulary
//     (IOITokenizer; WriteIOITokenizer saves it as tokenizer.json). Prompts
//     end before the IO name: Answer = IO, Wrong = S; the corrupted prompt
//     has three other, distinct names (ABC). Pairs use templates of one token
//     length (Options.Template picks one); Batch mixes all 30 and pads after
//     the answer. "ioi:names=surname" (IOISurname) gives both people a first
//     name and a surname (ToySurnames, in ToySurnameTokenizer: ToyTokenizer's
//     ids, then the surnames) and names the subject again by surname alone
//     ("When Mary Smith and John Jones went to the store, Jones gave a drink
//     to": Answer = Mary, Wrong = John), so that telling IO from S takes a
//     previous-token step, as Colored Objects does. "ioi:answer=surname"
//     (IOISurnameAnswer) names the subject again by first name and asks for
//     IO's surname ("..., John gave a drink to": Answer = Smith, Wrong =
//     Jones), a previous-token step on the key side.
//   - "ioi-gpt2": the same with GPT-2's tokenizer and the paper's names that
//     are single GPT-2 tokens (" Mary").
//   - "colored-objects": Colored Objects (Ippolito & Callison-Burch 2023) as
//     Merullo et al. (2024) compare it with IOI: "On the table , I see a red
//     cup , a blue ball and a green pen . What color is the ball" (answer:
//     blue, right after the object) in ToyTokenizer's words (the IOI vocabulary with the same ids, then the
//     colors, objects and surfaces). Answer = the color of the object asked
//     about, Wrong = another listed object's color; the corrupted prompt asks
//     about that other object. "colored-objects:color=after" puts each color
//     after its object ("a cup red , a ball blue ..."), so that the answer
//     is the token after the object's earlier mention (an induction look-up).
//     "colored-objects:questions=N" (1-16; with or without color=) asks N-1
//     answered questions first ("What color is the cup red . What color is
//     the pen"), each about a listed item drawn at random, and training scores
//     every answer, as icl-classify scores every label.
//   - "mix:A,B": rows of the listed tasks, each row from one of them at
//     random, padded to the longest; all share one tokenizer (ToyTokenizer by
//     default). No pairs of its own: training scores each task, and patching
//     and discovery name one of them.
//   - "greater-than": "The <noun> lasted from the year 17YY to the year 17"
//     (Hanna et al. 2023), corrupted with YY = 01; Answer = YY+1, Wrong = YY-1.
//   - "json:PATH": a user's file of prompts, answers and wrong answers (see
//     JSONRow), tokenized with Options.Tokenizer.
package tasks
