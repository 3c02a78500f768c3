package tokenizer_test

import (
	"fmt"
	"log"

	"github.com/interp-dev/interp/tokenizer"
)

func Example() {
	tok, err := tokenizer.GPT2()
	if err != nil {
		log.Fatal(err)
	}
	ids, err := tok.Encode("Hello world")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ids)
	for _, id := range ids {
		fmt.Printf("%d=%q\n", id, tok.TokenString(id))
	}
	text, err := tok.Decode(ids)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(text, tok.VocabSize())
	// Output:
	// [15496 995]
	// 15496="Hello"
	// 995=" world"
	// Hello world 50257
}

func ExampleSingleToken() {
	tok, err := tokenizer.GPT2()
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{" Mary", " John", " Bartholomew"} {
		id, err := tokenizer.SingleToken(tok, name)
		fmt.Println(id, err)
	}
	// Output:
	// 5335 <nil>
	// 1757 <nil>
	// 0 tokenizer: " Bartholomew" is 3 tokens with gpt2, want exactly 1 (ids [44414 349 28030])
}

func ExampleForModel() {
	// "gpt2" needs no files; "" or "dir" reads the model directory.
	tok, err := tokenizer.ForModel("", "gpt2")
	if err != nil {
		log.Fatal(err)
	}
	ids, _ := tok.Encode("When Mary and John went to the store, John gave a drink to")
	fmt.Println(tok.Name(), ids)
	// Output:
	// gpt2 [2215 5335 290 1757 1816 284 262 3650 11 1757 2921 257 4144 284]
}
