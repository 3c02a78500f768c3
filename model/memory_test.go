package model

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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

// TestCheckpointBytes: the header-only size of a sharded BF16 checkpoint is 4 bytes per float
// element of its tensors as read (buffers included), twice the BF16 bytes on disk.
func TestCheckpointBytes(t *testing.T) {
	dir := "../testdata/golden-families/llama-gqa-bf16-sharded"
	got, err := CheckpointBytes(dir)
	require.NoError(t, err)
	files, _, err := checkpointFiles(dir)
	require.NoError(t, err)
	require.Len(t, files, 2)
	var want float64
	for _, f := range files {
		ts, _, err := ReadSafetensors(f)
		require.NoError(t, err)
		for _, x := range ts {
			want += 4 * float64(x.Shape().Size())
		}
	}
	require.Equal(t, want, got)
	_, err = CheckpointBytes(t.TempDir())
	require.ErrorContains(t, err, "no model.safetensors")
}
