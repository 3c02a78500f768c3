package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	st "github.com/nlpodyssey/safetensors"
	"github.com/x448/float16"
)

// FuzzReadSafetensors asserts the reader never panics and either fails with an error naming the
// file or returns tensors whose byte sizes match their shapes. It also checks the reader against
// github.com/nlpodyssey/safetensors: whatever is accepted here must be accepted there with the
// same names, shapes, values and metadata; what the library accepts and this reader rejects must
// be one of the stricter rules of the reference implementation (UTF-8, leading '{', no duplicate
// names) or a dimension GoMLX cannot represent.
//
//	go test -run='^$' -fuzz=FuzzReadSafetensors -fuzztime=60s ./model/
func FuzzReadSafetensors(f *testing.F) {
	// Valid files: every dtype, scalar and empty tensors, metadata.
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.safetensors")
	if err := WriteSafetensors(path, sampleSTTensors(), map[string]string{"format": "pt"}); err != nil {
		f.Fatal(err)
	}
	sample, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	good, header, data := validST()
	f.Add(good)
	f.Add(stFile(`{}`, nil))
	f.Add(stFile(`{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[],"data_offsets":[4,6]},"d":{"dtype":"F64","shape":[1,1],"data_offsets":[6,14]},"m":{"dtype":"BOOL","shape":[2],"data_offsets":[14,16]}}`,
		[]byte{0, 0x3c, 0xff, 0x7c, 0x80, 0x3f, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 7, 1}))
	if ref, err := os.ReadFile("../testdata/golden/gpt2-tiny-nopos/model.safetensors"); err == nil {
		f.Add(ref)
	}
	// Corrupt files.
	f.Add(good[:len(good)-1])                                                                        // truncated data
	f.Add(good[:30])                                                                                 // truncated header
	f.Add(append(binary.LittleEndian.AppendUint64(nil, 1<<62), good[8:]...))                         // header length > file
	f.Add(stFile(strings.Replace(header, "[8,20]", "[4,16]", 1), data[:16]))                         // overlapping offsets
	f.Add(stFile(strings.Replace(header, `"F32"`, `"X32"`, 1), data))                                // unknown dtype
	f.Add(stFile(`{"a":{"dtype":"F32","shape":[0,9223372036854775807],"data_offsets":[0,0]}}`, nil)) // huge zero-size
	f.Add(stFile(`{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}`, []byte{1, 2, 3}))
	f.Add([]byte{})
	// Found by fuzzing: encoding/json matches struct fields case-insensitively, so "dtYpe" was
	// accepted as "dtype" (the reference implementation and the library reject it).
	// Found by fuzzing: a duplicate name whose first entry is also malformed must be reported as a
	// duplicate (the library keeps the last entry and accepts the file).
	f.Add(stFile(`{"a":{"00000":"00","00000":[0],"000000000000":[0,0]},"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}`, []byte("000")))
	f.Add(stFile(`{"__metadata__":{"000000":"00"},"0":{"dtYpe":"F32","shApe":[2],"dAtA_offsets":[0,8]},"1":{"dtYpe":"F32","shApe":[3],"dAtA_offsets":[8,20]}}`, data))

	f.Fuzz(func(t *testing.T, b []byte) {
		const name = "fuzz.safetensors"
		ts, meta, err := readSafetensors(name, bytes.NewReader(b), int64(len(b)), nil)
		lib, libMeta, libErr := libRead(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "model: safetensors "+name+": ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			if libErr == nil && !stricterThanLibrary(err) {
				t.Fatalf("rejected a file the library accepts: %v", err)
			}
			return
		}
		for n, tt := range ts {
			if tt == nil {
				t.Fatalf("tensor %q: nil", n)
			}
			size := 1
			for _, d := range tt.Shape().Dimensions {
				if d < 0 {
					t.Fatalf("tensor %q: negative dimension in %v", n, tt.Shape().Dimensions)
				}
				size *= d
			}
			if size != tt.Size() {
				t.Fatalf("tensor %q: shape %v but size %d", n, tt.Shape().Dimensions, tt.Size())
			}
			if got := len(stTensorBytes(tt)); got != size*tt.DType().Size() {
				t.Fatalf("tensor %q: %d bytes for shape %v of %s", n, got, tt.Shape().Dimensions, tt.DType())
			}
		}
		if libErr != nil {
			t.Fatalf("accepted a file the library rejects (%v)", libErr)
		}
		if len(lib) != len(ts) {
			t.Fatalf("%d tensors, library has %d", len(ts), len(lib))
		}
		if len(meta) != len(libMeta) {
			t.Fatalf("metadata %v, library has %v", meta, libMeta)
		}
		for k, v := range libMeta {
			if meta[k] != v {
				t.Fatalf("metadata %q = %q, library has %q", k, meta[k], v)
			}
		}
		for n, v := range lib {
			tt, ok := ts[n]
			if !ok {
				t.Fatalf("tensor %q: missing (library has it)", n)
			}
			if fmt.Sprint(stU64s(tt.Shape().Dimensions...)) != fmt.Sprint(v.Shape()) {
				t.Fatalf("tensor %q: shape %v, library has %v", n, tt.Shape().Dimensions, v.Shape())
			}
			if want := libAsOurs(v); !bytes.Equal(stTensorBytes(tt), want) {
				t.Fatalf("tensor %q (%s): data differs from the library's", n, v.DType())
			}
		}
	})
}

// stricterThanLibrary reports whether err is one of the rules this reader enforces and the
// library does not.
func stricterThanLibrary(err error) bool {
	for _, s := range []string{"not valid UTF-8", "does not start with '{'", "duplicate key", "too large"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// libRead parses b with github.com/nlpodyssey/safetensors, turning a panic into an error.
func libRead(b []byte) (views map[string]st.TensorView, meta map[string]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("library panicked: %v", r)
		}
	}()
	s, err := st.Deserialize(b)
	if err != nil {
		return nil, nil, err
	}
	_, m, err := st.ReadMetadata(b)
	if err != nil {
		return nil, nil, err
	}
	views = map[string]st.TensorView{}
	for _, n := range s.Names() {
		views[n], _ = s.Tensor(n)
	}
	return views, m.Metadata(), nil
}

// libAsOurs converts a library tensor view to the bytes this reader's tensor should hold:
// F16/BF16/F64 as float32, BOOL normalised to 0/1, the rest verbatim (little-endian host).
func libAsOurs(v st.TensorView) []byte {
	data := v.Data()
	conv := func(n int, f func(i int) float32) []byte {
		out := make([]float32, n)
		for i := range out {
			out[i] = f(i)
		}
		if n == 0 {
			return []byte{}
		}
		return stTensorBytes(tensors.FromFlatDataAndDimensions(out, n))
	}
	switch v.DType() {
	case st.F16:
		return conv(len(data)/2, func(i int) float32 {
			return float16.Frombits(binary.LittleEndian.Uint16(data[2*i:])).Float32()
		})
	case st.BF16:
		return conv(len(data)/2, func(i int) float32 {
			return math.Float32frombits(uint32(binary.LittleEndian.Uint16(data[2*i:])) << 16)
		})
	case st.F64:
		return conv(len(data)/8, func(i int) float32 {
			return float32(math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:])))
		})
	case st.BOOL:
		out := make([]byte, len(data))
		for i, x := range data {
			if x != 0 {
				out[i] = 1
			}
		}
		return out
	}
	return append([]byte{}, data...)
}
