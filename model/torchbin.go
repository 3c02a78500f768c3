package model

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
	"github.com/x448/float16"
)

// pytorch_model.bin reader: the zip archive torch.save has written since PyTorch 1.6 (data.pkl
// plus one data/<key> record per storage), unpickled with github.com/nlpodyssey/gopickle's
// pickle machine, which interprets the opcodes in Go and runs no Python. It is restricted
// further: data.pkl is first walked by checkPickleOps, which admits only the opcodes a state
// dict needs and arguments that fit the stream, and the only globals it resolves are torch._utils._rebuild_tensor_v2, the typed storage
// classes and collections.OrderedDict (gopickle's own object/copy_reg reconstructors build inert
// Go values), so anything but a state dict of tensors is refused with the global it named. Each
// storage's element count is checked against its record's size before it is read, and every
// tensor's strided view against its storage, so a crafted file can neither allocate beyond the
// archive nor read outside a storage. Panics inside the library become errors naming the file.

// torchStorageElem is the element size of each typed storage a state dict may hold.
var torchStorageElem = map[string]int{
	"FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "DoubleStorage": 8,
	"LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
}

// torchStorageClass is a typed storage class a persistent id names (torch.FloatStorage, ...).
type torchStorageClass string

// rawStorage is one storage's little-endian bytes, converted to float32 here rather than by
// gopickle's storages (whose float16 conversion turns subnormals into wrong values: -7.27e-6
// read as -3.42e-5 in a test checkpoint).
type rawStorage struct {
	class torchStorageClass
	data  []byte
}

func (s *rawStorage) SetFromFile(io.Reader) error { return errors.New("legacy storage layout") }
func (s *rawStorage) SetFromFileWithSize(r io.Reader, size int) error {
	s.data = make([]byte, size*torchStorageElem[string(s.class)])
	_, err := io.ReadFull(r, s.data)
	return err
}

// float32At returns element i (in elements) as float32, for the float storages.
func (s *rawStorage) float32At(i int) float32 {
	switch s.class {
	case "FloatStorage":
		return math.Float32frombits(binary.LittleEndian.Uint32(s.data[4*i:]))
	case "HalfStorage":
		return float16.Frombits(binary.LittleEndian.Uint16(s.data[2*i:])).Float32()
	case "BFloat16Storage":
		return math.Float32frombits(uint32(binary.LittleEndian.Uint16(s.data[2*i:])) << 16)
	case "DoubleStorage":
		return float32(math.Float64frombits(binary.LittleEndian.Uint64(s.data[8*i:])))
	}
	panic("model: not a float storage: " + string(s.class))
}

// readTorchBin reads a pytorch_model.bin state dict. Float tensors are converted to float32;
// tensors keep skips map to nil without being converted (their storages are still read).
func readTorchBin(file string, keep func(string) bool) (ts map[string]*tensors.Tensor, err error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("model: load %s: "+format, append([]any{file}, args...)...)
	}
	defer func() {
		if r := recover(); r != nil {
			ts, err = nil, errf("malformed pickle: %v", r)
		}
	}()
	zr, err := zip.OpenReader(file)
	if err != nil {
		return nil, errf("not a torch.save zip archive (%v); files saved before PyTorch 1.6 are not supported, re-save with torch.save or convert to safetensors", err)
	}
	defer zr.Close()
	records := map[string]*zip.File{}
	var dataPkl *zip.File
	st, err := os.Stat(file)
	if err != nil {
		return nil, errf("%v", err)
	}
	for _, f := range zr.File {
		// torch.save stores every record uncompressed; holding to that bounds every allocation
		// below by the file's own size (no zip bombs, no sizes the file cannot back).
		if f.Method != zip.Store || f.UncompressedSize64 != f.CompressedSize64 || f.UncompressedSize64 > uint64(st.Size()) {
			return nil, errf("record %s is compressed or larger than the file (torch.save stores records uncompressed)", f.Name)
		}
		dir, base := path.Split(f.Name)
		switch {
		case base == "constants.pkl":
			return nil, errf("a TorchScript archive, not a state dict")
		case base == "data.pkl":
			dataPkl = f
		case strings.HasSuffix(dir, "/data/"):
			records[base] = f
		}
	}
	if dataPkl == nil {
		return nil, errf("no data.pkl in the archive")
	}
	const maxPickle = 256 << 20 // a state dict's pickle is kilobytes; its tensors live in the data records
	if dataPkl.UncompressedSize64 > maxPickle {
		return nil, errf("data.pkl is %d bytes, more than a state dict's pickle (%d)", dataPkl.UncompressedSize64, maxPickle)
	}
	df, err := dataPkl.Open()
	if err != nil {
		return nil, errf("%v", err)
	}
	pkl, err := io.ReadAll(io.LimitReader(df, maxPickle))
	df.Close()
	if err != nil {
		return nil, errf("data.pkl: %v", err)
	}
	if err := checkPickleOps(pkl); err != nil {
		return nil, errf("data.pkl: %v", err)
	}

	storages := map[string]pytorch.StorageInterface{}
	u := pickle.NewUnpickler(bytes.NewReader(pkl))
	u.FindClass = func(module, name string) (any, error) {
		if module == "torch._utils" && name == "_rebuild_tensor_v2" {
			return &pytorch.RebuildTensorV2{}, nil
		}
		if _, ok := torchStorageElem[name]; ok && module == "torch" {
			return torchStorageClass(name), nil
		}
		return nil, fmt.Errorf("pickle global %s.%s is not allowed (a .bin is read as a state dict of tensors only, and nothing in it is run)", module, name)
	}
	u.PersistentLoad = func(id any) (any, error) {
		t, ok := id.(*types.Tuple)
		if !ok || t.Len() != 5 {
			return nil, fmt.Errorf("persistent id %v is not a ('storage', class, key, location, size) tuple", id)
		}
		kind, _ := t.Get(0).(string)
		class, okC := t.Get(1).(torchStorageClass)
		key, okK := t.Get(2).(string)
		loc, okL := t.Get(3).(string)
		size, okS := t.Get(4).(int)
		if kind != "storage" || !okC || !okK || !okL || !okS || size < 0 {
			return nil, fmt.Errorf("persistent id %v is not a ('storage', class, key, location, size) tuple", id)
		}
		if s, ok := storages[key]; ok {
			return s, nil
		}
		rec, ok := records[key]
		if !ok {
			return nil, fmt.Errorf("storage %q has no data/%s record", key, key)
		}
		if want := uint64(size) * uint64(torchStorageElem[string(class)]); rec.UncompressedSize64 != want {
			return nil, fmt.Errorf("storage %q: %d %s elements need %d bytes, its record holds %d", key, size, class, want, rec.UncompressedSize64)
		}
		rf, err := rec.Open()
		if err != nil {
			return nil, err
		}
		defer rf.Close()
		_ = loc // the device a storage was saved from does not matter here
		s := &rawStorage{class: class}
		if err := s.SetFromFileWithSize(rf, size); err != nil {
			return nil, fmt.Errorf("storage %q: %v", key, err)
		}
		storages[key] = s
		return s, nil
	}
	obj, err := u.Load()
	if err != nil {
		return nil, errf("%v", err)
	}
	entries := map[string]any{}
	switch d := obj.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			kv := e.Value.(*types.OrderedDictEntry)
			k, ok := kv.Key.(string)
			if !ok {
				return nil, errf("state dict key %v is not a string", kv.Key)
			}
			entries[k] = kv.Value
		}
	case *types.Dict:
		for _, kv := range *d {
			k, ok := kv.Key.(string)
			if !ok {
				return nil, errf("state dict key %v is not a string", kv.Key)
			}
			entries[k] = kv.Value
		}
	default:
		return nil, errf("holds a %T, not a state dict (a dict of tensors)", obj)
	}
	ts = map[string]*tensors.Tensor{}
	for name, v := range entries {
		t, ok := v.(*pytorch.Tensor)
		if !ok {
			return nil, errf("tensor %q: a %T, not a tensor", name, v)
		}
		if keep != nil && !keep(name) {
			ts[name] = nil
			continue
		}
		x, err := torchTensor(t)
		if err != nil {
			return nil, errf("tensor %q: %v", name, err)
		}
		ts[name] = x
	}
	return ts, nil
}

// torchTensor copies a (possibly strided) float tensor view into a contiguous float32 tensor.
func torchTensor(t *pytorch.Tensor) (*tensors.Tensor, error) {
	s, ok := t.Source.(*rawStorage)
	if !ok {
		return nil, fmt.Errorf("storage %T is not a typed storage", t.Source)
	}
	switch s.class {
	case "FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage":
	default:
		return nil, fmt.Errorf("a %s, not a float tensor (want float32, float16, bfloat16 or float64)", s.class)
	}
	n := len(s.data) / torchStorageElem[string(s.class)]
	if len(t.Size) != len(t.Stride) || t.StorageOffset < 0 {
		return nil, fmt.Errorf("size %v and stride %v do not describe a view", t.Size, t.Stride)
	}
	count, last := 1, t.StorageOffset
	for i, d := range t.Size {
		if d < 0 || t.Stride[i] < 0 {
			return nil, fmt.Errorf("negative size or stride (%v, %v)", t.Size, t.Stride)
		}
		count *= d
		if d > 0 {
			last += (d - 1) * t.Stride[i]
		}
	}
	if count > n {
		// A state dict's tensors are views of their storages, never larger (an expand()ed view
		// is); refusing them bounds the memory a crafted size can ask for.
		return nil, fmt.Errorf("view of size %v has %d elements, more than its %d-element storage", t.Size, count, n)
	}
	if count > 0 && last >= n {
		return nil, fmt.Errorf("view (offset %d, size %v, stride %v) reaches element %d of a %d-element storage", t.StorageOffset, t.Size, t.Stride, last, n)
	}
	out := make([]float32, count)
	idx := make([]int, len(t.Size))
	for i := range out {
		off := t.StorageOffset
		for k, j := range idx {
			off += j * t.Stride[k]
		}
		out[i] = s.float32At(off)
		for k := len(idx) - 1; k >= 0; k-- {
			if idx[k]++; idx[k] < t.Size[k] {
				break
			}
			idx[k] = 0
		}
	}
	return tensors.FromFlatDataAndDimensions(out, t.Size...), nil
}

// torchBinBytes bounds the float32 memory of a .bin's tensors from its zip directory: twice the
// bytes of its data records (exact for 16-bit storages, an over-estimate for the others).
func torchBinBytes(file string) (float64, error) {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return 0, fmt.Errorf("model: load %s: not a torch.save zip archive (%v)", file, err)
	}
	defer zr.Close()
	var total float64
	for _, f := range zr.File {
		if dir, _ := path.Split(f.Name); strings.HasSuffix(dir, "/data/") {
			total += 2 * float64(f.UncompressedSize64)
		}
	}
	return total, nil
}
