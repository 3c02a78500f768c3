package model

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// ActivationBytes is an estimate of the memory one forward pass of batch rows of pos tokens
// holds when every hook point is live (as in a full cache, or a backward pass that keeps the
// forward's activations): per layer the residual stream (4 x B*P*D), q, k, v, z and the per-head
// results (5 x B*P*H*K), the attention scores and pattern (2 x B*H*P*P) and the MLP (2 x B*P*M),
// plus the logits (B*P*V), in float32. Commands compare it with the memory available before
// they allocate, so a size that cannot fit is an error naming the flag, not an out-of-memory
// crash minutes later.
func (c Config) ActivationBytes(batch, pos int) float64 {
	b, p := float64(batch), float64(pos)
	perLayer := 4*b*p*float64(c.DModel) + 5*b*p*float64(c.NHeads*c.DHead) + 2*b*float64(c.NHeads)*p*p
	if !c.AttnOnly {
		perLayer += 2 * b * p * float64(c.DMLP)
		if c.GatedMLP { // the linear branch
			perLayer += b * p * float64(c.DMLP)
		}
	}
	return 4 * (float64(c.NLayers)*perLayer + b*p*float64(c.DVocab))
}

// MemoryAvailable returns the memory the system can give a new allocation now (Linux's
// MemAvailable), and false where it cannot be read.
func MemoryAvailable() (float64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0, false
			}
			return kb * 1024, true
		}
	}
	return 0, false
}

// CheckMemory returns an error when need bytes exceed the memory available now; what names
// the request ("--n 100000 pairs"). It passes when the available memory cannot be read.
func CheckMemory(what string, need float64) error {
	avail, ok := MemoryAvailable()
	if !ok || need <= avail {
		return nil
	}
	return fmt.Errorf("%s needs about %s of memory, and %s is available", what, humanBytes(need), humanBytes(avail))
}

func humanBytes(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	}
	return fmt.Sprintf("%.0f KiB", b/(1<<10))
}

// CheckpointBytes returns the memory the float32 weights of the checkpoint in dir take once
// loaded (every float tensor at 4 bytes an element, whatever its dtype on disk), reading only the
// safetensors headers. For a pytorch_model.bin, whose dtypes are known only once unpickled, it is
// an upper bound: twice the storages' bytes (as if all were 16-bit). Load needs up to twice that at its peak (the tensors as read plus their
// TransformerLens layout), and refuses, naming both figures, when that cannot fit.
func CheckpointBytes(dir string) (float64, error) {
	files, _, err := checkpointFiles(dir)
	if err != nil {
		return 0, err
	}
	var total float64
	for _, path := range files {
		if strings.HasSuffix(path, ".bin") {
			b, err := torchBinBytes(path)
			if err != nil {
				return 0, err
			}
			total += b
			continue
		}
		entries, err := readSafetensorsEntries(path)
		if err != nil {
			return 0, err
		}
		for _, e := range entries {
			if info, ok := stDTypes[e.dtype]; ok && info.to == dtypes.Float32 {
				n := 1.0
				for _, d := range e.shape {
					n *= float64(d)
				}
				total += 4 * n
			}
		}
	}
	return total, nil
}

// checkLoadMemory refuses a checkpoint whose load peak (twice its float32 weights) does not fit.
func checkLoadMemory(dir string) error {
	b, err := CheckpointBytes(dir)
	if err != nil {
		return err
	}
	if err := CheckMemory(fmt.Sprintf("model: load %s: %s of float32 weights", dir, humanBytes(b)), 2*b); err != nil {
		return fmt.Errorf("%w (loading holds the weights as read and in their TransformerLens layout)", err)
	}
	return nil
}

// HumanBytes formats a byte count as KiB, MiB or GiB.
func HumanBytes(b float64) string { return humanBytes(b) }

// checkDisk refuses, before any work, an output file of size bytes that cannot fit in the space
// free on path's file system (when the free space can be read).
func checkDisk(path string, size int64) error {
	dir := filepath.Dir(path)
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil // the write itself reports a missing folder
	}
	free := float64(st.Bavail) * float64(st.Bsize)
	if float64(size) > free {
		return fmt.Errorf("%s needs %s, and %s is free in %s", path, humanBytes(float64(size)), humanBytes(free), dir)
	}
	return nil
}
