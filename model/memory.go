package model

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
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
