package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestServeBadFlags checks that interp serve refuses, before loading anything, a non-loopback
// address without --allow-remote, a --runs folder that does not exist and a zero queue.
func TestServeBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--addr", "0.0.0.0:8077"}, "not a loopback address"},
		{[]string{"serve", "--addr", "8077"}, "want HOST:PORT"},
		{[]string{"serve", "--runs", filepath.Join(t.TempDir(), "nope")}, "--runs"},
		{[]string{"serve", "--queue", "0"}, "--queue 0: must be positive"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, "interp serve: ")
		require.Contains(t, stderr, c.want)
	}
}
