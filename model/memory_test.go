package model

import (
	"strings"
	"testing"
)

func TestActivationBytesAndCheckMemory(t *testing.T) {
	c := AttnOnlyToy(2, 8, 64, 64, 64)
	// 2 layers x (4*32*64*64 + 5*32*64*64 + 2*32*8*64*64) + 32*64*64, times 4 bytes.
	want := 4.0 * (2*(4*32*64*64+5*32*64*64+2*32*8*64*64) + 32*64*64)
	if got := c.ActivationBytes(32, 64); got != want {
		t.Errorf("ActivationBytes = %g, want %g", got, want)
	}
	if _, ok := MemoryAvailable(); !ok {
		t.Skip("no /proc/meminfo: CheckMemory cannot be exercised here")
	}
	if err := CheckMemory("a tiny run", 1<<20); err != nil {
		t.Errorf("1 MiB refused: %v", err)
	}
	err := CheckMemory("--seq-len 100000", c.ActivationBytes(32, 100000))
	if err == nil || !strings.Contains(err.Error(), "--seq-len 100000 needs about") || !strings.Contains(err.Error(), "GiB") {
		t.Errorf("a 100000-token batch: %v", err)
	}
}
