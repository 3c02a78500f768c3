package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestQuietBarWritesOneSummaryLine(t *testing.T) {
	var buf bytes.Buffer
	b := newBar(&buf, 10, "train", true)
	b.Add(3, "loss 2.50")
	b.Add(7, "loss 1.25")
	if buf.Len() != 0 {
		t.Fatalf("quiet bar wrote before Finish: %q", buf.String())
	}
	b.Finish()
	b.Finish()
	got := buf.String()
	if strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "train: 10/10 in ") || !strings.Contains(got, "loss 1.25") {
		t.Errorf("summary = %q", got)
	}
}

func TestBarShowsStatus(t *testing.T) {
	var buf bytes.Buffer
	b := newBar(&buf, 4, "sweep", false)
	b.Add(4, "layer 3")
	b.Finish()
	if got := buf.String(); !strings.Contains(got, "sweep") || !strings.Contains(got, "4/4") {
		t.Errorf("bar output = %q", got)
	}
}
