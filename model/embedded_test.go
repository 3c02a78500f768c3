package model

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing"
)

// TestEmbeddedModels loads every embedded model by name, checks the 2 MB budget and that
// extraction is reused (same folder, same bytes) on a second load.
func TestEmbeddedModels(t *testing.T) {
	names := embeddedNames()
	for _, want := range []string{"induction-2l", "ioi-toy"} {
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
		if size > 2<<20 {
			t.Errorf("%s: %d bytes embedded, over the 2 MB budget", name, size)
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
