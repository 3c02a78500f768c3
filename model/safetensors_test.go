package model

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	st "github.com/nlpodyssey/safetensors"
	"github.com/stretchr/testify/require"
	"github.com/x448/float16"
)

// stFile assembles a safetensors file from a header (JSON text, used verbatim) and data bytes.
func stFile(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

// readSTBytes runs the reader on an in-memory file.
func readSTBytes(name string, b []byte) (map[string]*tensors.Tensor, map[string]string, error) {
	return readSafetensors(name, bytes.NewReader(b), int64(len(b)), nil)
}

func writeSTTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// stTensorBytes returns t's little-endian bytes (empty for zero-size tensors).
func stTensorBytes(t *tensors.Tensor) []byte {
	if t.Size() == 0 {
		return []byte{}
	}
	var out []byte
	if err := t.ConstBytes(func(b []byte) { out = slices.Clone(b) }); err != nil {
		panic(err)
	}
	return out
}

func requireSameSTTensors(t *testing.T, want, got map[string]*tensors.Tensor) {
	t.Helper()
	require.Equal(t, ckptSortedKeys(want), ckptSortedKeys(got), "tensor names")
	for name, w := range want {
		g := got[name]
		require.Equal(t, w.DType(), g.DType(), "%s dtype", name)
		require.Equal(t, w.Shape().Dimensions, g.Shape().Dimensions, "%s shape", name)
		require.Equal(t, stTensorBytes(w), stTensorBytes(g), "%s data", name)
	}
}

// sampleSTTensors covers every dtype written natively (float32, int32, int64, int8, uint8, bool),
// a scalar and a zero-size tensor.
func sampleSTTensors() map[string]*tensors.Tensor {
	return map[string]*tensors.Tensor{
		"h.0.attn.c_attn.weight": tensors.FromFlatDataAndDimensions([]float32{1, -2, 3.5, float32(math.Inf(1)), 5, 6}, 2, 3),
		"scalar":                 tensors.FromFlatDataAndDimensions([]float32{42}),
		"empty":                  tensors.FromFlatDataAndDimensions([]float32{}, 0, 4),
		"ids32":                  tensors.FromFlatDataAndDimensions([]int32{1, 2, -3}, 3),
		"ids64":                  tensors.FromFlatDataAndDimensions([]int64{1 << 40, -7}, 1, 2),
		"i8":                     tensors.FromFlatDataAndDimensions([]int8{-1, 2, 3}, 3),
		"u8":                     tensors.FromFlatDataAndDimensions([]uint8{255, 0}, 2),
		"mask":                   tensors.FromFlatDataAndDimensions([]bool{true, false, true}, 3),
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	ts := sampleSTTensors()
	meta := map[string]string{"format": "pt", "note": "<&>"}
	require.NoError(t, WriteSafetensors(path, ts, meta))
	got, gotMeta, err := ReadSafetensors(path)
	require.NoError(t, err)
	require.Equal(t, meta, gotMeta)
	requireSameSTTensors(t, ts, got)

	// Header is 8-byte aligned and every tensor starts at a multiple of its element size.
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	n := binary.LittleEndian.Uint64(raw)
	require.Zero(t, n%8, "header length %d not 8-byte aligned", n)
	entries, _, err := parseSafetensorsHeader(raw[8:8+n], uint64(len(raw))-8-n)
	require.NoError(t, err)
	for _, e := range entries {
		require.Zero(t, e.begin%uint64(stDTypes[e.dtype].size), "%s misaligned", e.name)
	}

	// The output is deterministic.
	path2 := filepath.Join(t.TempDir(), "y.safetensors")
	require.NoError(t, WriteSafetensors(path2, ts, meta))
	raw2, err := os.ReadFile(path2)
	require.NoError(t, err)
	require.Equal(t, raw, raw2)

	// Overwriting replaces the file atomically and leaves no temporary file behind.
	require.NoError(t, WriteSafetensors(path, map[string]*tensors.Tensor{"a": ts["scalar"]}, nil))
	got, gotMeta, err = ReadSafetensors(path)
	require.NoError(t, err)
	require.Nil(t, gotMeta)
	require.Equal(t, []string{"a"}, ckptSortedKeys(got))
	entriesInDir, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entriesInDir, 1, "temporary files left behind: %v", entriesInDir)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), info.Mode().Perm())

	// No tensors at all is a valid file.
	require.NoError(t, WriteSafetensors(path, nil, nil))
	got, _, err = ReadSafetensors(path)
	require.NoError(t, err)
	require.Empty(t, got)
}

// stLibView adapts raw bytes to the library's View (its NewTensorView mis-sizes scalars).
type stLibView struct {
	dt    st.DType
	shape []uint64
	data  []byte
}

func (v stLibView) DType() st.DType { return v.dt }
func (v stLibView) Shape() []uint64 { return v.shape }
func (v stLibView) Data() []byte    { return v.data }
func (v stLibView) DataLen() uint64 { return uint64(len(v.data)) }
func stU64s(dims ...int) []uint64 {
	out := make([]uint64, len(dims))
	for i, d := range dims {
		out[i] = uint64(d)
	}
	return out
}

// TestSafetensorsLibraryReadsOurFiles: files written here read identically with
// github.com/nlpodyssey/safetensors.
func TestSafetensorsLibraryReadsOurFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	ts := sampleSTTensors()
	require.NoError(t, WriteSafetensors(path, ts, map[string]string{"format": "pt"}))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	lib, err := st.Deserialize(raw)
	require.NoError(t, err)
	names := lib.Names()
	sort.Strings(names)
	require.Equal(t, ckptSortedKeys(ts), names)
	for name, want := range ts {
		v, ok := lib.Tensor(name)
		require.True(t, ok)
		require.Equal(t, stWriteDTypes[want.DType()], v.DType().String(), name)
		require.Equal(t, stU64s(want.Shape().Dimensions...), v.Shape(), name)
		require.Equal(t, stTensorBytes(want), append([]byte{}, v.Data()...), name)
	}
}

// TestSafetensorsReadsLibraryFiles: files written by github.com/nlpodyssey/safetensors read here,
// F16/BF16/F64 converted to float32 and integers kept.
func TestSafetensorsReadsLibraryFiles(t *testing.T) {
	vals := []float64{0, 1, -2.5, 0.1, 65504, 1e-3, math.Inf(-1)}
	var f16, bf16, f64, f32 []byte
	for _, v := range vals {
		f16 = binary.LittleEndian.AppendUint16(f16, float16.Fromfloat32(float32(v)).Bits())
		bf16 = binary.LittleEndian.AppendUint16(bf16, uint16(bfloat16.FromFloat32(float32(v))))
		f64 = binary.LittleEndian.AppendUint64(f64, math.Float64bits(v))
		f32 = binary.LittleEndian.AppendUint32(f32, math.Float32bits(float32(v)))
	}
	var i32, i64 []byte
	for _, v := range []int64{0, -1, 1 << 30} {
		i32 = binary.LittleEndian.AppendUint32(i32, uint32(int32(v)))
		i64 = binary.LittleEndian.AppendUint64(i64, uint64(v))
	}
	views := map[string]stLibView{
		"f16":    {st.F16, stU64s(7), f16},
		"bf16":   {st.BF16, stU64s(7), bf16},
		"f64":    {st.F64, stU64s(7), f64},
		"f32":    {st.F32, stU64s(1, 7), f32},
		"i32":    {st.I32, stU64s(3), i32},
		"i64":    {st.I64, stU64s(3, 1), i64},
		"scalar": {st.F32, stU64s(), f32[:4]},
		"empty":  {st.F16, stU64s(2, 0), nil},
	}
	raw, err := st.Serialize(views, map[string]string{"k": "v"})
	require.NoError(t, err)
	path := writeSTTemp(t, "lib.safetensors", raw)
	got, meta, err := ReadSafetensors(path)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"k": "v"}, meta)
	require.Len(t, got, len(views))

	for _, name := range []string{"f16", "bf16", "f64", "f32"} {
		g := got[name]
		require.Equal(t, dtypes.Float32, g.DType(), name)
		flat := tensors.MustCopyFlatData[float32](g)
		for i, v := range vals {
			var want float32
			switch name {
			case "f16":
				want = float16.Fromfloat32(float32(v)).Float32()
			case "bf16":
				want = bfloat16.FromFloat32(float32(v)).Float32()
			default:
				want = float32(v)
			}
			require.Equal(t, want, flat[i], "%s[%d]", name, i)
		}
	}
	require.Equal(t, []int{1, 7}, got["f32"].Shape().Dimensions)
	require.Equal(t, []int32{0, -1, 1 << 30}, tensors.MustCopyFlatData[int32](got["i32"]))
	require.Equal(t, []int64{0, -1, 1 << 30}, tensors.MustCopyFlatData[int64](got["i64"]))
	require.Equal(t, []int{3, 1}, got["i64"].Shape().Dimensions)
	require.Equal(t, []float32{0}, tensors.MustCopyFlatData[float32](got["scalar"]))
	require.Empty(t, got["scalar"].Shape().Dimensions)
	require.Equal(t, []int{2, 0}, got["empty"].Shape().Dimensions)
	require.Equal(t, dtypes.Float32, got["empty"].DType())
}

// TestSafetensorsReadsReferenceFiles: the golden files, written by the hand-written Python writer
// of testdata/ref, read identically here and with the library.
func TestSafetensorsReadsReferenceFiles(t *testing.T) {
	paths, err := filepath.Glob("../testdata/golden/*/*.safetensors")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		got, meta, err := ReadSafetensors(p)
		require.NoError(t, err, p)
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		lib, err := st.Deserialize(raw)
		require.NoError(t, err, p)
		require.Equal(t, len(lib.Names()), len(got), p)
		if strings.HasSuffix(p, "model.safetensors") {
			require.Equal(t, map[string]string{"format": "pt"}, meta, p)
		}
		for _, name := range lib.Names() {
			v, _ := lib.Tensor(name)
			g := got[name]
			require.NotNil(t, g, "%s: %s", p, name)
			require.Equal(t, dtypes.Float32, g.DType())
			require.Equal(t, stU64s(g.Shape().Dimensions...), v.Shape(), "%s: %s", p, name)
			require.Equal(t, append([]byte{}, v.Data()...), stTensorBytes(g), "%s: %s", p, name)
		}
	}
}

// validST is a small valid file with two F32 tensors "a" [2] (bytes 0-8) and "b" [3] (8-20).
func validST() ([]byte, string, []byte) {
	header := `{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}}`
	data := make([]byte, 20)
	for i := range data {
		data[i] = byte(i)
	}
	return stFile(header, data), header, data
}

func TestSafetensorsCorrupt(t *testing.T) {
	good, header, data := validST()
	_, _, err := readSTBytes("good.safetensors", good)
	require.NoError(t, err)
	withHeader := func(h string) []byte { return stFile(h, data) }
	entry := func(name, dtype, shape, offs string) string {
		return fmt.Sprintf(`%q:{"dtype":%q,"shape":%s,"data_offsets":%s}`, name, dtype, shape, offs)
	}
	hdr := func(entries ...string) []byte { return withHeader("{" + strings.Join(entries, ",") + "}") }
	lenPrefix := func(n uint64, rest []byte) []byte { return append(binary.LittleEndian.AppendUint64(nil, n), rest...) }

	cases := []struct {
		name string
		file []byte
		want []string // substrings of the error, besides the file name
	}{
		{"empty file", nil, []string{"0 bytes, too short"}},
		{"short file", []byte{1, 2, 3}, []string{"3 bytes, too short"}},
		{"truncated data", good[:len(good)-3], []string{`tensor "b"`, "data_offsets [8 20] exceed data size 17"}},
		{"truncated header", good[:40], []string{fmt.Sprintf("header length %d exceeds the 32 bytes", len(header))}},
		{"header length larger than file", lenPrefix(1<<40, good[8:]), []string{"header length 1099511627776 exceeds"}},
		{"header length overflows", lenPrefix(math.MaxUint64, good[8:]), []string{"header length 18446744073709551615 exceeds"}},
		{"offsets out of range", hdr(entry("a", "F32", "[2]", "[0,8]"), entry("b", "F32", "[3]", "[8,20]"), entry("c", "F32", "[1]", "[20,24]")),
			[]string{`tensor "c"`, "data_offsets [20 24] exceed data size 20"}},
		{"offsets past the end", hdr(entry("a", "F32", "[2]", "[0,8]"), entry("b", "F32", "[3]", "[18446744073709551600,18446744073709551612]")),
			[]string{`tensor "b"`, "exceed data size 20"}},
		{"overlapping offsets", hdr(entry("a", "F32", "[3]", "[0,12]"), entry("b", "F32", "[3]", "[8,20]")),
			[]string{`tensor "b"`, `overlap tensor "a" [0 12]`}},
		{"same offsets", hdr(entry("a", "F32", "[5]", "[0,20]"), entry("b", "F32", "[5]", "[0,20]")),
			[]string{`tensor "b"`, `overlap tensor "a"`}},
		{"gap between tensors", hdr(entry("a", "F32", "[1]", "[0,4]"), entry("b", "F32", "[3]", "[8,20]")),
			[]string{`tensor "b"`, "leave bytes [4 8] of the data section unused"}},
		{"data not starting at 0", hdr(entry("a", "F32", "[1]", "[4,8]"), entry("b", "F32", "[3]", "[8,20]")),
			[]string{`tensor "a"`, "leave bytes [0 4]"}},
		{"trailing bytes", stFile(header, append(slices.Clone(data), 0, 0, 0, 0)), []string{"data section is 24 bytes but its tensors end at byte 20"}},
		{"reversed offsets", hdr(entry("a", "F32", "[2]", "[8,0]"), entry("b", "F32", "[3]", "[8,20]")),
			[]string{`tensor "a"`, "data_offsets [8 0] end before they begin"}},
		{"shape vs byte length", hdr(entry("a", "F32", "[3]", "[0,8]"), entry("b", "F32", "[3]", "[8,20]")),
			[]string{`tensor "a"`, "dtype F32 shape [3] needs 12 bytes, data_offsets [0 8] hold 8"}},
		{"dtype vs byte length", hdr(entry("a", "F64", "[2]", "[0,8]"), entry("b", "F32", "[3]", "[8,20]")),
			[]string{`tensor "a"`, "dtype F64 shape [2] needs 16 bytes"}},
		{"unknown dtype", hdr(entry("a", "F31", "[2]", "[0,8]"), entry("b", "F32", "[3]", "[8,20]")),
			[]string{`tensor "a"`, `unknown dtype "F31"`}},
		{"unsupported dtype", hdr(entry("a", "F8_E4M3", "[8]", "[0,8]"), entry("b", "F32", "[3]", "[8,20]")),
			[]string{`tensor "a"`, "dtype F8_E4M3 is not supported"}},
		{"shape overflow", hdr(entry("a", "F32", "[4294967296,4294967296,4294967296]", "[0,8]"), entry("b", "F32", "[3]", "[8,20]")),
			[]string{`tensor "a"`, "too many elements"}},
		{"dimension too large", hdr(entry("a", "F32", "[0,18446744073709551615]", "[0,0]"), entry("b", "F32", "[5]", "[0,20]")),
			[]string{`tensor "a"`, "dimension 18446744073709551615 too large"}},
		{"negative dimension", hdr(entry("a", "F32", "[-2]", "[0,8]"), entry("b", "F32", "[3]", "[8,20]")),
			[]string{`tensor "a"`, "shape [-2]", "cannot unmarshal number -2"}},
		{"fractional offset", hdr(entry("a", "F32", "[2]", "[0,8.5]"), entry("b", "F32", "[3]", "[8,20]")),
			[]string{`tensor "a"`, "8.5"}},
		{"three offsets", hdr(entry("a", "F32", "[2]", "[0,8,9]"), entry("b", "F32", "[3]", "[8,20]")),
			[]string{`tensor "a"`, "data_offsets has 3 numbers, want 2"}},
		{"missing dtype", withHeader(`{"a":{"shape":[5],"data_offsets":[0,20]}}`), []string{`tensor "a"`, "no dtype"}},
		{"missing shape", withHeader(`{"a":{"dtype":"F32","data_offsets":[0,20]}}`), []string{`tensor "a"`, "no shape"}},
		{"missing offsets", withHeader(`{"a":{"dtype":"F32","shape":[5]}}`), []string{`tensor "a"`, "no data_offsets"}},
		{"null entry", withHeader(`{"a":null}`), []string{`tensor "a"`, "no dtype"}},
		{"unknown field", withHeader(`{"a":{"dtype":"F32","shape":[5],"data_offsets":[0,20],"x":1}}`), []string{`tensor "a"`, `header entry has unknown field "x"`}},
		{"entry not an object", withHeader(`{"a":5}`), []string{`tensor "a"`, "header entry is not an object"}},
		{"field name case", withHeader(`{"a":{"dtype":"F32","Shape":[5],"data_offsets":[0,20]}}`), []string{`tensor "a"`, `unknown field "Shape"`}},
		{"null shape", withHeader(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`), []string{`tensor "a"`, "no shape"}},
		{"shape not an array", withHeader(`{"a":{"dtype":"F32","shape":5,"data_offsets":[0,20]}}`), []string{`tensor "a"`, "shape 5:"}},
		{"duplicate tensor", withHeader(`{"a":{"dtype":"F32","shape":[5],"data_offsets":[0,20]},"a":{"dtype":"F32","shape":[5],"data_offsets":[0,20]}}`),
			[]string{`duplicate key "a"`}},
		{"metadata not strings", withHeader(`{"__metadata__":{"n":1},"a":{"dtype":"F32","shape":[5],"data_offsets":[0,20]}}`),
			[]string{"__metadata__ must map strings to strings"}},
		{"bad JSON", withHeader(`{"a":{"dtype":"F32",}}`), []string{"header is not valid JSON"}},
		{"trailing JSON", withHeader(`{"a":{"dtype":"F32","shape":[5],"data_offsets":[0,20]}} {}`), []string{"header is not valid JSON"}},
		{"not an object", withHeader(`[1, 2]`), []string{"does not start with '{'"}},
		{"leading space", withHeader(` {"a":{"dtype":"F32","shape":[5],"data_offsets":[0,20]}}`), []string{"does not start with '{'"}},
		{"invalid UTF-8", withHeader("{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,20]}}"), []string{"not valid UTF-8"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Through the file API, so the error names the path.
			path := writeSTTemp(t, "bad.safetensors", tc.file)
			ts, _, err := ReadSafetensors(path)
			require.Error(t, err, "read succeeded with %d tensors", len(ts))
			msg := err.Error()
			t.Log(msg)
			require.True(t, strings.HasPrefix(msg, "model: safetensors "+path+": "), "error does not name the file: %s", msg)
			for _, w := range tc.want {
				require.Contains(t, msg, w)
			}
		})
	}

	t.Run("header too large", func(t *testing.T) {
		// A 200 MB file whose header claims 150 MB: rejected before the header is read.
		b := lenPrefix(150_000_000, nil)
		_, _, err := readSafetensors("big.safetensors", stSparseReader(b), 200_000_000, nil)
		require.ErrorContains(t, err, "model: safetensors big.safetensors: header length 150000000 exceeds the maximum 100000000")
	})
	t.Run("missing file", func(t *testing.T) {
		_, _, err := ReadSafetensors(filepath.Join(t.TempDir(), "nope.safetensors"))
		require.ErrorContains(t, err, "nope.safetensors: no such file")
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		_, _, err := ReadSafetensors(dir)
		require.ErrorContains(t, err, "model: safetensors "+dir+": not a regular file")
	})
}

// stSparseReader reads b at the start of an otherwise zero-filled file.
type stSparseReader []byte

func (s stSparseReader) ReadAt(p []byte, off int64) (int, error) {
	for i := range p {
		p[i] = 0
		if j := off + int64(i); j < int64(len(s)) {
			p[i] = s[j]
		}
	}
	return len(p), nil
}

func TestWriteSafetensorsErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	ok := tensors.FromFlatDataAndDimensions([]float32{1}, 1)
	require.ErrorContains(t, WriteSafetensors(path, map[string]*tensors.Tensor{"a": nil}, nil), `tensor "a" is nil`)
	require.ErrorContains(t, WriteSafetensors(path, map[string]*tensors.Tensor{"__metadata__": ok}, nil), "cannot be named __metadata__")
	c64 := tensors.FromFlatDataAndDimensions([]complex64{1}, 1)
	require.ErrorContains(t, WriteSafetensors(path, map[string]*tensors.Tensor{"c": c64}, nil), `tensor "c": dtype Complex64 cannot be written`)
	err := WriteSafetensors("/proc/no/such/x.safetensors", map[string]*tensors.Tensor{"a": ok}, nil)
	require.ErrorContains(t, err, "model: write /proc/no/such/x.safetensors")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing may be written on error")
}

// TestSafetensorsHeaderJSON: the header the writer produces is plain JSON a reader in any
// language parses: sorted keys, shapes as arrays (scalars as []), offsets as [begin, end].
func TestSafetensorsHeaderJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	require.NoError(t, WriteSafetensors(path, map[string]*tensors.Tensor{
		"b": tensors.FromFlatDataAndDimensions([]float32{1, 2}, 2),
		"a": tensors.FromFlatDataAndDimensions([]float32{3}),
	}, map[string]string{"format": "pt"}))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	n := binary.LittleEndian.Uint64(raw)
	var h map[string]any
	require.NoError(t, json.Unmarshal(raw[8:8+n], &h))
	require.Equal(t, map[string]any{
		"__metadata__": map[string]any{"format": "pt"},
		"a":            map[string]any{"dtype": "F32", "shape": []any{}, "data_offsets": []any{0.0, 4.0}},
		"b":            map[string]any{"dtype": "F32", "shape": []any{2.0}, "data_offsets": []any{4.0, 12.0}},
	}, h)
}
