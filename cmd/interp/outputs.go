package main

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/interp-dev/interp/internal/atomicfile"
)

// output is an output flag, checked before the work starts: a command must not compute for
// minutes and then fail to write.
type output struct {
	flag, path string
	exts       []string // accepted extensions (".png"); nil for any
	dir        bool     // the path is a folder the command fills
}

// checkOutputs refuses, naming the flag, an output of the wrong format or one that cannot be
// written (a folder that cannot be created, no permission, a folder where a file is wanted).
// Empty paths are skipped (the flag was not given).
func checkOutputs(outs ...output) error {
	for _, o := range outs {
		if o.path == "" {
			continue
		}
		if o.exts != nil && !slices.Contains(o.exts, strings.ToLower(filepath.Ext(o.path))) {
			return usagef("--%s %s: want a %s file", o.flag, o.path, strings.Join(o.exts, " or "))
		}
		probe := o.path
		if o.dir {
			probe = filepath.Join(o.path, "probe")
		}
		if err := atomicfile.CheckWritable(probe); err != nil {
			if o.dir {
				return usagef("--%s %s: the folder cannot be written", o.flag, o.path)
			}
			return usagef("--%s: %v", o.flag, err)
		}
	}
	return nil
}

var imageExts = []string{".png", ".svg"}
