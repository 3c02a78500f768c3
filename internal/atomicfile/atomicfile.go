// Package atomicfile writes output files the one way every package and command of interp does:
// to a temporary file beside the target, synced, made world-readable (0644, like os.Create under
// the usual umask) and renamed into place, so that a reader never sees a half-written file and a
// failed write leaves the old file as it was. Errors name the target path, never the temporary
// file. CheckWritable tells before a long computation whether its output could be written.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write streams write's output to path atomically, creating path's folder if needed.
func Write(path string, write func(w io.Writer) error) error {
	return WriteFile(path, func(f *os.File) error {
		bw := bufio.NewWriterSize(f, 1<<20)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// WriteFile is Write for writers that need the file itself (WriteAt, to fill a file laid out in
// advance out of order); the file is renamed into place only when write returns nil.
func WriteFile(path string, write func(f *os.File) error) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("write %s: %w", path, bare(err))
		}
	}()
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteBytes writes data to path atomically.
func WriteBytes(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// CheckWritable reports whether a file could be written at path now: path is not a folder, and
// its folder exists (or can be created) and accepts new files. It creates the folder, as the
// write would, and leaves no file behind. The error names path.
func CheckWritable(path string) error {
	if path == "" {
		return errors.New("empty output path")
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a folder, not a file", path)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, bare(err))
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".check-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, bare(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// bare strips the path from an *fs.PathError, whose path may be the temporary file's.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
