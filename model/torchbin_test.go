package model

import (
	"archive/zip"
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
	"github.com/x448/float16"
)

// The .bin files in testdata/torchbin are written by torch.save (testdata/ref/families_ref.py).

func TestTorchBinValues(t *testing.T) {
	ts, err := readTorchBin("../testdata/torchbin/transposed.bin", nil)
	require.NoError(t, err)
	w := ts["w"] // arange(6).view(2, 3).t(): a view with strides (1, 3)
	require.Equal(t, []int{3, 2}, w.Shape().Dimensions)
	require.Equal(t, []float32{0, 3, 1, 4, 2, 5}, tensors.MustCopyFlatData[float32](w))

	ts, err = readTorchBin("../testdata/torchbin/halves.bin", nil)
	require.NoError(t, err)
	var want []float32
	for _, x := range []float32{6e-8, -7.27e-6, 6.1035e-5, 1, -65504} { // subnormals, the smallest normal, ...
		want = append(want, float16.Fromfloat32(x).Float32())
	}
	require.Equal(t, want, tensors.MustCopyFlatData[float32](ts["h"]), "float16, subnormals exact")
	bf16 := func(x float32) float32 { // round to nearest even on the top 16 bits, as torch does
		u := math.Float32bits(x)
		return math.Float32frombits((u + 0x7fff + (u>>16)&1) &^ 0xffff)
	}
	require.Equal(t, []float32{bf16(1e-40), bf16(-3.0e38)}, tensors.MustCopyFlatData[float32](ts["b"]), "bfloat16, a subnormal exact")
}

func TestTorchBinRefusals(t *testing.T) {
	for file, want := range map[string]string{
		"global-os-system.bin": "pickle global posix.system is not allowed",
		"not-a-dict.bin":       "holds a *pytorch.Tensor, not a state dict",
		"int-tensor.bin":       `tensor "w": a LongStorage, not a float tensor`,
	} {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("..", "testdata", "torchbin", file)
			_, err := readTorchBin(path, nil)
			require.Error(t, err)
			require.Contains(t, err.Error(), "model: load "+path+": ")
			require.Contains(t, err.Error(), want)
		})
	}
}

// TestTorchBinInCheckpoint: a folder with only pytorch_model.bin loads; a malicious one is refused
// through Load with the global named; a record whose size disagrees with its storage is refused
// before it is read.
func TestTorchBinInCheckpoint(t *testing.T) {
	dir := t.TempDir()
	src := "../testdata/golden-families/pythia-bin-f16"
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644))
	evil, err := os.ReadFile("../testdata/torchbin/global-os-system.bin")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), evil, 0o644))
	_, err = Load(dir)
	require.ErrorContains(t, err, "pickle global posix.system is not allowed")

	// Shrink one data record: its storage then claims more elements than the record holds.
	good, err := os.ReadFile(filepath.Join(src, "pytorch_model.bin"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), rezipTruncating(t, good, "/data/0"), 0o644))
	_, err = Load(dir)
	require.ErrorContains(t, err, `storage "0"`)
	require.ErrorContains(t, err, "its record holds")
}

// rezipTruncating rewrites a zip archive with the record ending in suffix cut to half its size.
func rezipTruncating(t *testing.T, data []byte, suffix string) []byte {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		r, err := f.Open()
		require.NoError(t, err)
		var b bytes.Buffer
		_, err = b.ReadFrom(r)
		require.NoError(t, err)
		body := b.Bytes()
		if strings.HasSuffix(f.Name, suffix) {
			body = body[:len(body)/2]
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		require.NoError(t, err)
		_, err = w.Write(body)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// FuzzReadTorchBin asserts the .bin reader never panics or allocates beyond the archive, and
// either returns float32 tensors whose sizes match their shapes or an error naming the file.
//
//	go test -run='^$' -fuzz=FuzzReadTorchBin -fuzztime=60s ./model/
func FuzzReadTorchBin(f *testing.F) {
	for _, p := range []string{"../testdata/torchbin/transposed.bin", "../testdata/torchbin/halves.bin",
		"../testdata/torchbin/global-os-system.bin", "../testdata/torchbin/not-a-dict.bin"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("PK\x03\x04"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "f.bin")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ts, err := readTorchBin(path, nil)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "model: load "+path+": ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for name, x := range ts {
			n := 1
			for _, d := range x.Shape().Dimensions {
				n *= d
			}
			if got := len(tensors.MustCopyFlatData[float32](x)); got != n {
				t.Fatalf("%s: %d values for shape %v", name, got, x.Shape().Dimensions)
			}
		}
	})
}

// FuzzReadFamilyConfig asserts config.json parsing never panics: any input is a Config that
// validates, a GPT-2 config (left to ReadHFConfig), or an error naming the file.
//
//	go test -run='^$' -fuzz=FuzzReadFamilyConfig -fuzztime=60s ./model/
func FuzzReadFamilyConfig(f *testing.F) {
	matches, _ := filepath.Glob("../testdata/golden-families/*/config.json")
	for _, p := range matches {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"model_type": "llama", "num_hidden_layers": -1}`))
	f.Add([]byte(`{"model_type": "gpt_neo", "attention_types": [[["local"], 99999999999]]}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "config.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, _, _, ok, err := readFamilyConfig(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if ok {
			if err := c.Validate(); err != nil {
				t.Fatalf("accepted an invalid config: %v", err)
			}
		}
	})
}

// FuzzCheckpointIndex asserts a sharded checkpoint's index never makes Load panic or read outside
// the folder: any index is loaded as a checkpoint or refused with an error naming a file.
//
//	go test -run='^$' -fuzz=FuzzCheckpointIndex -fuzztime=60s ./model/
func FuzzCheckpointIndex(f *testing.F) {
	src := "../testdata/golden-families/llama-gqa-bf16-sharded"
	index, err := os.ReadFile(filepath.Join(src, weightsIndex))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(index)
	f.Add([]byte(`{"weight_map": {"a": "../model.safetensors"}}`))
	f.Add([]byte(`{"weight_map": {}}`))
	dir := f.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, weightsIndex), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err != nil && !strings.Contains(err.Error(), dir) {
			t.Fatalf("error does not name a file in the folder: %v", err)
		}
	})
}
