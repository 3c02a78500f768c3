package atomicfile

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteIsAtomicAndReadable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "out.json")
	if err := WriteBytes(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	if err := Write(path, func(w io.Writer) error { w.Write([]byte("partial")); return os.ErrInvalid }); err == nil {
		t.Fatal("a failing writer reported success")
	}
	if data, _ := os.ReadFile(path); string(data) != "one" {
		t.Errorf("a failed write changed the file: %q", data)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestErrorsNameThePathNotTheTempFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Log("running as root: /proc still refuses new files")
	}
	for _, path := range []string{"/proc/p.json", "/proc/nope/p.json"} {
		err := CheckWritable(path)
		if err == nil {
			t.Fatalf("%s: writable?", path)
		}
		if !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), ".check-") {
			t.Errorf("%s: %v", path, err)
		}
		err = WriteBytes(path, []byte("x"))
		if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), ".tmp-") {
			t.Errorf("%s: %v", path, err)
		}
	}
	dir := t.TempDir()
	if err := CheckWritable(dir); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("a folder as output: %v", err)
	}
	if err := CheckWritable(filepath.Join(dir, "new", "f.png")); err != nil {
		t.Errorf("a new file in a new folder: %v", err)
	}
}
