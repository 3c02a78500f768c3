package tasks_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/interp-dev/interp/tasks"
)

func Example() {
	// A training batch of repeated random tokens for a model of 16 ids
	// and 9 positions: BOS, 4 tokens, the same 4 again.
	task, err := tasks.New("induction", tasks.Options{Vocab: 16, SeqLen: 9})
	if err != nil {
		log.Fatal(err)
	}
	b := task.Batch(rand.New(rand.NewPCG(1, 2)), 2)
	fmt.Println(b.Tokens)

	// IOI pairs on the toy vocabulary: the model should say IO, not S.
	ioi, err := tasks.New("ioi", tasks.Options{Template: 1})
	if err != nil {
		log.Fatal(err)
	}
	p, err := ioi.Pairs(1, 2)
	if err != nil {
		log.Fatal(err)
	}
	tok := tasks.IOITokenizer()
	for i := range p.Clean {
		corrupted, _ := tok.Decode(p.Corrupted[i])
		fmt.Printf("%s -> %s (not %s)\n", p.Text[i], tok.TokenString(p.Answer[i]), tok.TokenString(p.Wrong[i]))
		fmt.Printf("  corrupted: %s\n", corrupted)
	}
	// Output:
	// [[0 10 12 12 4 10 12 12 4] [0 8 7 2 3 10 7 10 7]]
	// Then, Paul and Sarah went to the hospital. Paul gave a computer to -> Sarah (not Paul)
	//   corrupted: <|endoftext|> Then , Amanda and John went to the hospital . Jennifer gave a computer to
	// Then, Nicole and David went to the restaurant. David gave a snack to -> Nicole (not David)
	//   corrupted: <|endoftext|> Then , Heather and Jennifer went to the restaurant . Ryan gave a snack to
}
