package model

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
)

// embeddedFS holds the trained default models shipped in the binary: one folder per model in
// the Hugging Face layout (see embedded/README.md).
//
//go:embed all:embedded
var embeddedFS embed.FS

// embeddedNames lists the embedded models (folders with a config.json), sorted.
func embeddedNames() []string {
	entries, err := fs.ReadDir(embeddedFS, "embedded")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := fs.Stat(embeddedFS, path.Join("embedded", e.Name(), "config.json")); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// embeddedAbout is the one-line description of an embedded model, from its about.txt.
func embeddedAbout(name string) string {
	data, err := fs.ReadFile(embeddedFS, path.Join("embedded", name, "about.txt"))
	if err == nil {
		return string(trimNewline(data))
	}
	return "trained model (embedded)"
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// embeddedDir extracts an embedded model to a folder (once per content: the folder name carries
// a hash of the files) and returns it, so that every loader, tokenizer included, reads an
// embedded model exactly like a downloaded one. The folder is under the user cache directory
// (or the temp directory), written to a temp name and renamed into place.
func embeddedDir(name string) (string, error) {
	root := path.Join("embedded", name)
	files, err := fs.ReadDir(embeddedFS, root)
	if err != nil {
		return "", fmt.Errorf("model %s: %w", name, err)
	}
	h := sha256.New()
	for _, f := range files {
		data, err := fs.ReadFile(embeddedFS, path.Join(root, f.Name()))
		if err != nil {
			return "", fmt.Errorf("model %s: %w", name, err)
		}
		fmt.Fprintf(h, "%s %d\n", f.Name(), len(data))
		h.Write(data)
	}
	base, err := os.UserCacheDir()
	if err != nil || base == "" {
		base = os.TempDir()
	}
	parent := filepath.Join(base, "interp", "models")
	dir := filepath.Join(parent, name+"-"+hex.EncodeToString(h.Sum(nil))[:12])
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("model %s: extract: %w", name, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+name+"-tmp")
	if err != nil {
		return "", fmt.Errorf("model %s: extract: %w", name, err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		data, _ := fs.ReadFile(embeddedFS, path.Join(root, f.Name()))
		if err := os.WriteFile(filepath.Join(tmp, f.Name()), data, 0o644); err != nil {
			return "", fmt.Errorf("model %s: extract: %w", name, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process may have extracted the same content first.
		if _, statErr := os.Stat(filepath.Join(dir, "config.json")); statErr == nil {
			return dir, nil
		}
		return "", fmt.Errorf("model %s: extract: %w", name, err)
	}
	return dir, nil
}
