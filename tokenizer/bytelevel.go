package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// byteToRune is GPT-2's bytes_to_unicode table: it maps every byte to a
// printable rune, so byte-level BPE tokens can be stored as text in
// vocab.json and merges.txt (e.g. the space byte 0x20 becomes 'Ġ').
// runeToByte is its inverse.
var (
	byteToRune [256]rune
	runeToByte = make(map[rune]byte, 256)
)

func init() {
	printableByte := func(b int) bool {
		return '!' <= b && b <= '~' || '¡' <= b && b <= '¬' || '®' <= b && b <= 'ÿ'
	}
	n := 0
	for b := range 256 {
		r := rune(b)
		if !printableByte(b) {
			r = rune(256 + n)
			n++
		}
		byteToRune[b] = r
		runeToByte[r] = byte(b)
	}
}

// byteLevelEncode maps raw bytes to GPT-2's printable-rune form.
func byteLevelEncode(s string) string {
	buf := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		buf = utf8.AppendRune(buf, byteToRune[s[i]])
	}
	return string(buf)
}

// byteLevelDecode inverts byteLevelEncode. Runes outside the table (which
// byte-level vocabularies do not contain) are kept as their UTF-8 bytes.
func byteLevelDecode(s string) string {
	buf := make([]byte, 0, len(s))
	for _, r := range s {
		if b, ok := runeToByte[r]; ok {
			buf = append(buf, b)
		} else {
			buf = utf8.AppendRune(buf, r)
		}
	}
	return string(buf)
}

// gpt2Split appends to dst the pieces of text produced by GPT-2's
// pre-tokenization regex
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// implemented by hand because Go's regexp has no lookahead. \s is
// [unicode.IsSpace], as in the regexp2 engine used by tiktoken-go.
func gpt2Split(text string, dst []string) []string {
	for text != "" {
		n := gpt2PieceLen(text)
		dst = append(dst, text[:n])
		text = text[n:]
	}
	return dst
}

type runeClass uint8

const (
	classSpace runeClass = iota
	classLetter
	classNumber
	classOther
)

func classify(r rune) runeClass {
	switch {
	case unicode.IsSpace(r):
		return classSpace
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	default:
		return classOther
	}
}

// gpt2PieceLen returns the length in bytes of the regex match at the start
// of the non-empty string s.
func gpt2PieceLen(s string) int {
	// 's|'t|'re|'ve|'m|'ll|'d
	if s[0] == '\'' && len(s) >= 2 {
		switch s[1] {
		case 's', 't', 'm', 'd':
			return 2
		case 'r', 'v':
			if len(s) >= 3 && s[2] == 'e' {
				return 3
			}
		case 'l':
			if len(s) >= 3 && s[2] == 'l' {
				return 3
			}
		}
	}

	//  ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+
	start := 0
	if s[0] == ' ' && len(s) > 1 {
		start = 1
	}
	r, size := utf8.DecodeRuneInString(s[start:])
	if class := classify(r); class != classSpace {
		i := start + size
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			if classify(r) != class {
				break
			}
			i += size
		}
		return i
	}

	// \s+(?!\S)|\s+ : take the whole run of whitespace; if it is followed by
	// a non-space and is longer than one rune, leave its last rune to start
	// the next piece (so " word" keeps its leading space).
	i, last := 0, 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i, last = i+size, size
	}
	if i < len(s) && i > last {
		return i - last
	}
	return i
}
