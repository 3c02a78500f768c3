package model

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// checkPickleOps walks a torch.save data.pkl before it is unpickled and refuses any opcode a
// state dict does not need (with its name), or whose argument runs past the end of the stream,
// so the unpickler neither executes an unexpected construct nor allocates a length it was told
// but cannot read. The allowed set is what torch.save writes for a dict of tensors with pickle
// protocols 2 to 4: containers, ints, floats, strings, memo access, GLOBAL/STACK_GLOBAL (resolved
// later against a short allow-list), REDUCE, BUILD and BINPERSID for storages.
func checkPickleOps(data []byte) error {
	type arg int
	const (
		none   arg = iota
		fixed      // n bytes
		len1       // 1-byte length, then that many bytes
		len4       // 4-byte little-endian length
		len8       // 8-byte little-endian length
		lines2     // two newline-terminated lines (GLOBAL)
	)
	ops := map[byte]struct {
		name string
		kind arg
		n    int
	}{
		0x80: {"PROTO", fixed, 1}, 0x95: {"FRAME", fixed, 8}, '.': {"STOP", none, 0},
		'}': {"EMPTY_DICT", none, 0}, ']': {"EMPTY_LIST", none, 0}, ')': {"EMPTY_TUPLE", none, 0},
		'(': {"MARK", none, 0}, 't': {"TUPLE", none, 0}, 0x85: {"TUPLE1", none, 0}, 0x86: {"TUPLE2", none, 0},
		0x87: {"TUPLE3", none, 0}, 'u': {"SETITEMS", none, 0}, 's': {"SETITEM", none, 0}, 'e': {"APPENDS", none, 0},
		'a': {"APPEND", none, 0}, 'N': {"NONE", none, 0}, 0x88: {"NEWTRUE", none, 0}, 0x89: {"NEWFALSE", none, 0},
		'K': {"BININT1", fixed, 1}, 'M': {"BININT2", fixed, 2}, 'J': {"BININT", fixed, 4}, 'G': {"BINFLOAT", fixed, 8},
		0x8a: {"LONG1", len1, 0}, 'X': {"BINUNICODE", len4, 0}, 0x8c: {"SHORT_BINUNICODE", len1, 0},
		'U': {"SHORT_BINSTRING", len1, 0}, 'T': {"BINSTRING", len4, 0},
		'q': {"BINPUT", fixed, 1}, 'r': {"LONG_BINPUT", fixed, 4}, 0x94: {"MEMOIZE", none, 0},
		'h': {"BINGET", fixed, 1}, 'j': {"LONG_BINGET", fixed, 4},
		'c': {"GLOBAL", lines2, 0}, 0x93: {"STACK_GLOBAL", none, 0}, 'R': {"REDUCE", none, 0}, 'b': {"BUILD", none, 0},
		'Q': {"BINPERSID", none, 0},
	}
	for i := 0; i < len(data); {
		op, ok := ops[data[i]]
		if !ok {
			return fmt.Errorf("pickle opcode 0x%02x at byte %d is not one torch.save writes for a state dict", data[i], i)
		}
		i++
		var n uint64
		switch op.kind {
		case fixed:
			n = uint64(op.n)
		case len1:
			if i+1 > len(data) {
				return fmt.Errorf("pickle %s at byte %d: truncated", op.name, i-1)
			}
			n, i = uint64(data[i]), i+1
		case len4:
			if i+4 > len(data) {
				return fmt.Errorf("pickle %s at byte %d: truncated", op.name, i-1)
			}
			n, i = uint64(binary.LittleEndian.Uint32(data[i:])), i+4
		case len8:
			if i+8 > len(data) {
				return fmt.Errorf("pickle %s at byte %d: truncated", op.name, i-1)
			}
			n, i = binary.LittleEndian.Uint64(data[i:]), i+8
		case lines2:
			rest := string(data[i:])
			a := strings.IndexByte(rest, '\n')
			b := -1
			if a >= 0 {
				b = strings.IndexByte(rest[a+1:], '\n')
			}
			if a < 0 || b < 0 {
				return fmt.Errorf("pickle GLOBAL at byte %d: truncated", i-1)
			}
			n = uint64(a + 1 + b + 1)
		}
		if n > uint64(len(data)-i) {
			return fmt.Errorf("pickle %s at byte %d: argument of %d bytes runs past the end (%d left)", op.name, i-1, n, len(data)-i)
		}
		i += int(n)
		if op.name == "STOP" {
			return nil
		}
	}
	return fmt.Errorf("pickle: no STOP opcode")
}
