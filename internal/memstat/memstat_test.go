package memstat

import "testing"

// The peak RSS of a running test binary is positive and below the machine's memory.
func TestPeakRSS(t *testing.T) {
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	got := PeakRSSGiB()
	if got < 64.0/1024 || got > 1024 {
		t.Fatalf("peak RSS %g GiB after touching 64 MiB", got)
	}
	_ = buf[len(buf)-1]
}
