package model

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing"
)

// TestEmbeddedModels loads every embedded model by name, checks the size budget (2 MB for the
// toy models, 10 MB for the real-language text-4l, issue 17) and that extraction is reused (same
// folder, same bytes) on a second load.
func TestEmbeddedModels(t *testing.T) {
	names := embeddedNames()
	for _, want := range []string{"induction-2l", "induction-2l-qcomp", "ioi-toy", "text-4l"} {
		if !slices.Contains(names, want) {
			t.Errorf("embedded model %q missing (have %v)", want, names)
		}
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	for _, name := range names {
		var size int64
		files, err := fs.ReadDir(embeddedFS, path.Join("embedded", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			info, _ := f.Info()
			size += info.Size()
		}
		budget := int64(2 << 20)
		if name == "text-4l" {
			budget = 10 << 20
		}
		if size > budget {
			t.Errorf("%s: %d bytes embedded, over the %d MB budget", name, size, budget>>20)
		}
		w, dir, err := LoadAny(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := w.Check(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		_, dir2, err := LoadAny(name)
		if err != nil || dir2 != dir {
			t.Errorf("%s: second load: dir %q vs %q, err %v", name, dir2, dir, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
			t.Errorf("%s: extracted folder: %v", name, err)
		}
		found := false
		for _, line := range BuiltinNames() {
			found = found || len(line) > len(name) && line[:len(name)+1] == name+":"
		}
		if !found {
			t.Errorf("%s not listed by BuiltinNames", name)
		}
	}
}
