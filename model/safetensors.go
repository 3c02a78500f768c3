package model

// Safetensors reader and writer.
//
// Library decision: github.com/nlpodyssey/safetensors (in go.mod) was evaluated and is sound as a
// validator — it bounds the header length (100 MB) and checks it against the buffer, requires the
// offsets to be contiguous from 0 to the end of the buffer (so in range and non-overlapping),
// checks dtype size × shape == byte length with overflow-checked products, and no input we or the
// fuzz test tried makes it panic. It is not used here, for three reasons:
//
//   - It deserializes from one []byte holding the whole file, so loading GPT-2 small would hold
//     the 500 MB file plus the 500 MB of tensors at once. This reader validates the header, then
//     reads each tensor straight from the file into its tensor's memory (peak ≈ the tensors).
//   - Its errors do not name the tensor or the numbers for the most common corruptions ("metadata
//     validation error: info data offsets mismatch", "metadata incomplete buffer", "invalid
//     header length"); this project wants every error to name the file, the tensor and the sizes.
//   - It accepts some headers the reference (Rust) implementation rejects: invalid UTF-8, a header
//     not starting with '{', and duplicate tensor names (the last one silently wins).
//
// The library is still used in the tests as an independent oracle: files written here must read
// back identically with it, files it writes (F16/BF16/F64/I32/I64 included) must read here, and the
// fuzz test asserts that whatever this reader accepts the library accepts with the same contents.
//
// Format: 8-byte little-endian header length N, N bytes of JSON header
// {"__metadata__": {string: string}, name: {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}},
// then the data section; offsets are relative to the data section.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/x448/float16"

	"github.com/interp-dev/interp/internal/atomicfile"
)

// maxSafetensorsHeader is the largest header accepted, as in the reference implementation.
const maxSafetensorsHeader = 100_000_000

// stDType describes a safetensors dtype: its element size and the GoMLX dtype it is read as.
// F16, BF16 and F64 are converted to float32 on reading.
type stDType struct {
	size int
	to   dtypes.DType // dtypes.InvalidDType: known to the format but not supported here
}

var stDTypes = map[string]stDType{
	"F32":  {4, dtypes.Float32},
	"F16":  {2, dtypes.Float32},
	"BF16": {2, dtypes.Float32},
	"F64":  {8, dtypes.Float32},
	"I64":  {8, dtypes.Int64},
	"I32":  {4, dtypes.Int32},
	"I16":  {2, dtypes.Int16},
	"I8":   {1, dtypes.Int8},
	"U64":  {8, dtypes.Uint64},
	"U32":  {4, dtypes.Uint32},
	"U16":  {2, dtypes.Uint16},
	"U8":   {1, dtypes.Uint8},
	"BOOL": {1, dtypes.Bool},
	// Known to the format, not supported (their sizes still let a header be validated).
	"F8_E4M3": {1, dtypes.InvalidDType},
	"F8_E5M2": {1, dtypes.InvalidDType},
	"F8_E8M0": {1, dtypes.InvalidDType},
	"C64":     {8, dtypes.InvalidDType},
}

// stWriteDTypes maps a GoMLX dtype to the safetensors dtype it is written as.
var stWriteDTypes = map[dtypes.DType]string{
	dtypes.Float32: "F32", dtypes.Float64: "F64", dtypes.Float16: "F16", dtypes.BFloat16: "BF16",
	dtypes.Int64: "I64", dtypes.Int32: "I32", dtypes.Int16: "I16", dtypes.Int8: "I8",
	dtypes.Uint64: "U64", dtypes.Uint32: "U32", dtypes.Uint16: "U16", dtypes.Uint8: "U8",
	dtypes.Bool: "BOOL",
}

var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// stEntry is one tensor of a validated header.
type stEntry struct {
	name       string
	dtype      string
	shape      []int
	begin, end uint64
}

// ReadSafetensors reads a safetensors file. F32 tensors are returned as float32; F16, BF16 and
// F64 are converted to float32; integer and BOOL tensors keep their type (I32 -> int32, I64 ->
// int64, ...). The second result is the header's __metadata__ (nil when absent).
//
// The file is validated before any tensor is read: header length within the file and at most
// 100 MB, a UTF-8 JSON object without duplicate names, known dtypes, shapes whose byte size equals
// the tensor's data_offsets range, and offsets that tile the data section exactly (in range, no
// overlap, no gap, no trailing bytes). Tensors are then read straight from the file into their own
// memory, so the peak memory is about the size of the tensors (plus a 1 MB buffer when
// converting), not twice the file. Every error names the file and, where there is one, the tensor.
func ReadSafetensors(path string) (map[string]*tensors.Tensor, map[string]string, error) {
	return readSafetensorsFile(path, nil)
}

// readSafetensorsFile is ReadSafetensors with a filter: tensors for which keep returns false are
// validated but not read, and map to nil. keep == nil keeps all.
func readSafetensorsFile(path string, keep func(name string) bool) (map[string]*tensors.Tensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("model: safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("model: safetensors %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("model: safetensors %s: not a regular file", path)
	}
	return readSafetensors(path, f, st.Size(), keep)
}

// readSafetensors reads safetensors data of the given size from r; name is used in errors.
func readSafetensors(name string, r io.ReaderAt, size int64, keep func(string) bool) (map[string]*tensors.Tensor, map[string]string, error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("model: safetensors %s: "+format, append([]any{name}, args...)...)
	}
	entries, meta, dataStart, err := readSafetensorsHeader(r, size)
	if err != nil {
		return nil, nil, errf("%w", err)
	}
	out := make(map[string]*tensors.Tensor, len(entries))
	var buf []byte
	for _, e := range entries {
		if keep != nil && !keep(e.name) {
			out[e.name] = nil
			continue
		}
		info := stDTypes[e.dtype]
		if info.to == dtypes.InvalidDType {
			return nil, nil, errf("tensor %q: dtype %s is not supported (want F32, F16, BF16, F64 or an integer type)", e.name, e.dtype)
		}
		sec := io.NewSectionReader(r, dataStart+int64(e.begin), int64(e.end-e.begin))
		t, err := readSTTensor(sec, e, info, &buf)
		if err != nil {
			return nil, nil, errf("tensor %q: read data_offsets [%d %d]: %w", e.name, e.begin, e.end, err)
		}
		out[e.name] = t
	}
	return out, meta, nil
}

// readFullAt fills p from r at off (a ReaderAt may report io.EOF along with a full read).
func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	_, err := io.ReadFull(io.NewSectionReader(r, off, int64(len(p))), p)
	return err
}

// readSTTensor reads one tensor's data from sec (exactly its bytes) into a new tensor.
func readSTTensor(sec io.Reader, e stEntry, info stDType, buf *[]byte) (*tensors.Tensor, error) {
	t := tensors.FromShape(shapes.Make(info.to, e.shape...))
	if t.Size() == 0 {
		return t, nil // GoMLX cannot give a byte view of an empty tensor
	}
	var err error
	if info.to != dtypes.Float32 || e.dtype == "F32" {
		// Same layout in the file and in memory: read straight into the tensor.
		if e2 := t.MutableBytes(func(data []byte) {
			if _, err = io.ReadFull(sec, data); err != nil {
				return
			}
			if !hostLittleEndian {
				swapBytes(data, info.size)
			}
			if info.to == dtypes.Bool {
				for i, b := range data {
					if b > 1 {
						data[i] = 1
					}
				}
			}
		}); e2 != nil {
			return nil, e2
		}
		return t, err
	}
	// F16, BF16, F64 -> float32, converted through a bounded buffer.
	if *buf == nil {
		*buf = make([]byte, 1<<20)
	}
	chunk := *buf
	e2 := tensors.MutableFlatData(t, func(flat []float32) {
		per := len(chunk) / info.size
		for i := 0; i < len(flat); i += per {
			m := min(per, len(flat)-i)
			b := chunk[:m*info.size]
			if _, err = io.ReadFull(sec, b); err != nil {
				return
			}
			dst := flat[i : i+m]
			switch e.dtype {
			case "F16":
				for j := range dst {
					dst[j] = float16.Frombits(binary.LittleEndian.Uint16(b[2*j:])).Float32()
				}
			case "BF16":
				for j := range dst {
					dst[j] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*j:])) << 16)
				}
			case "F64":
				for j := range dst {
					dst[j] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*j:])))
				}
			}
		}
	})
	if e2 != nil {
		return nil, e2
	}
	return t, err
}

func swapBytes(data []byte, size int) {
	if size == 1 {
		return
	}
	for i := 0; i+size <= len(data); i += size {
		slices.Reverse(data[i : i+size])
	}
}

// readSafetensorsEntries reads and validates the header of a safetensors file, not its tensors.
func readSafetensorsEntries(path string) ([]stEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("model: safetensors %s: %w", path, err)
	}
	entries, _, _, err := readSafetensorsHeader(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("model: safetensors %s: %w", path, err)
	}
	return entries, nil
}

// readSafetensorsHeader reads and validates the header of safetensors data of the given size,
// returning its tensors, its metadata and where the data section starts. Errors name no file.
func readSafetensorsHeader(r io.ReaderAt, size int64) ([]stEntry, map[string]string, int64, error) {
	if size < 8 {
		return nil, nil, 0, fmt.Errorf("file is %d bytes, too short for the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if err := readFullAt(r, lenBuf[:], 0); err != nil {
		return nil, nil, 0, fmt.Errorf("read header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > uint64(size-8) {
		return nil, nil, 0, fmt.Errorf("header length %d exceeds the %d bytes after the length field (truncated or not a safetensors file)", n, size-8)
	}
	if n > maxSafetensorsHeader {
		return nil, nil, 0, fmt.Errorf("header length %d exceeds the maximum %d", n, maxSafetensorsHeader)
	}
	header := make([]byte, n)
	if err := readFullAt(r, header, 8); err != nil {
		return nil, nil, 0, fmt.Errorf("read header: %w", err)
	}
	dataStart := int64(8 + n)
	entries, meta, err := parseSafetensorsHeader(header, uint64(size-dataStart))
	return entries, meta, dataStart, err
}

// parseSafetensorsHeader validates a header against a data section of dataSize bytes and returns
// its tensors sorted by offset, and its metadata. Errors name the tensor but not the file.
func parseSafetensorsHeader(header []byte, dataSize uint64) ([]stEntry, map[string]string, error) {
	if !utf8.Valid(header) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	if len(header) == 0 || header[0] != '{' {
		return nil, nil, errors.New("header does not start with '{' (not a safetensors file?)")
	}
	if !json.Valid(header) {
		var v any
		err := json.Unmarshal(header, &v)
		return nil, nil, fmt.Errorf("header is not valid JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	// First every key (rejecting duplicates, which encoding/json would silently collapse), then
	// each entry.
	type kv struct {
		key string
		raw json.RawMessage
	}
	var (
		kvs  []kv
		seen = map[string]bool{}
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("header: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("header: unexpected token %v", tok)
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("header: duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("header: %q: %w", key, err)
		}
		kvs = append(kvs, kv{key, raw})
	}
	var (
		entries []stEntry
		meta    map[string]string
	)
	for _, p := range kvs {
		if p.key == "__metadata__" {
			if err := json.Unmarshal(p.raw, &meta); err != nil {
				return nil, nil, fmt.Errorf("header: __metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		e, err := parseSTEntry(p.key, p.raw)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}

	// Byte sizes, then the offsets must tile [0, dataSize) exactly.
	for _, e := range entries {
		if e.end < e.begin {
			return nil, nil, fmt.Errorf("tensor %q: data_offsets [%d %d] end before they begin", e.name, e.begin, e.end)
		}
		if e.end > dataSize {
			return nil, nil, fmt.Errorf("tensor %q: data_offsets [%d %d] exceed data size %d (file truncated?)", e.name, e.begin, e.end, dataSize)
		}
		nelem := uint64(1)
		for _, d := range e.shape {
			nelem *= uint64(d) // no overflow: checked in parseSTEntry
		}
		if want := nelem * uint64(stDTypes[e.dtype].size); e.end-e.begin != want {
			return nil, nil, fmt.Errorf("tensor %q: dtype %s shape %v needs %d bytes, data_offsets [%d %d] hold %d",
				e.name, e.dtype, e.shape, want, e.begin, e.end, e.end-e.begin)
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		if a.end != b.end {
			return a.end < b.end
		}
		return a.name < b.name
	})
	var pos uint64
	for i, e := range entries {
		switch {
		case e.begin < pos:
			p := entries[i-1]
			return nil, nil, fmt.Errorf("tensor %q: data_offsets [%d %d] overlap tensor %q [%d %d]", e.name, e.begin, e.end, p.name, p.begin, p.end)
		case e.begin > pos:
			return nil, nil, fmt.Errorf("tensor %q: data_offsets [%d %d] leave bytes [%d %d] of the data section unused (tensors must be contiguous)", e.name, e.begin, e.end, pos, e.begin)
		}
		pos = e.end
	}
	if pos != dataSize {
		return nil, nil, fmt.Errorf("data section is %d bytes but its tensors end at byte %d (trailing bytes)", dataSize, pos)
	}
	return entries, meta, nil
}

// parseSTEntry parses one tensor's header entry. Field names are matched exactly (encoding/json
// alone would also accept "DType" or "Shape"), unknown fields and nulls are errors.
func parseSTEntry(name string, raw json.RawMessage) (stEntry, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return stEntry{}, fmt.Errorf("tensor %q: header entry is not an object: %v", name, err)
	}
	for k := range fields {
		if k != "dtype" && k != "shape" && k != "data_offsets" {
			return stEntry{}, fmt.Errorf("tensor %q: header entry has unknown field %q", name, k)
		}
	}
	var h struct {
		DType       *string
		Shape       *[]uint64
		DataOffsets *[]uint64
	}
	for _, f := range []struct {
		key string
		dst any
	}{{"dtype", &h.DType}, {"shape", &h.Shape}, {"data_offsets", &h.DataOffsets}} {
		v, ok := fields[f.key]
		if !ok || string(v) == "null" {
			return stEntry{}, fmt.Errorf("tensor %q: header entry has no %s", name, f.key)
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return stEntry{}, fmt.Errorf("tensor %q: %s %s: %v", name, f.key, clip(v), err)
		}
	}
	if len(*h.DataOffsets) != 2 {
		return stEntry{}, fmt.Errorf("tensor %q: data_offsets has %d numbers, want 2", name, len(*h.DataOffsets))
	}
	if _, ok := stDTypes[*h.DType]; !ok {
		return stEntry{}, fmt.Errorf("tensor %q: unknown dtype %q", name, *h.DType)
	}
	e := stEntry{name: name, dtype: *h.DType, begin: (*h.DataOffsets)[0], end: (*h.DataOffsets)[1]}
	nelem := uint64(1)
	for _, d := range *h.Shape {
		if d > math.MaxInt {
			return stEntry{}, fmt.Errorf("tensor %q: shape %v: dimension %d too large", name, *h.Shape, d)
		}
		hi, lo := bits.Mul64(nelem, d)
		if hi != 0 || lo > math.MaxInt64/8 {
			return stEntry{}, fmt.Errorf("tensor %q: shape %v: too many elements", name, *h.Shape)
		}
		nelem = lo
		e.shape = append(e.shape, int(d))
	}
	return e, nil
}

// WriteSafetensors writes ts (name -> tensor) and metadata to a safetensors file, atomically: the
// data is streamed to a temporary file beside path, synced and renamed into place, so no second
// copy of the tensors is made and a reader never sees a partial file. Tensors are laid out by
// decreasing element size, then name (the reference implementation's order, which keeps each
// tensor aligned to its element size). Supported dtypes: float32/64, float16, bfloat16, the
// integer types and bool.
func WriteSafetensors(path string, ts map[string]*tensors.Tensor, metadata map[string]string) error {
	type item struct {
		name  string
		t     *tensors.Tensor
		dtype string
		size  int
	}
	items := make([]item, 0, len(ts))
	for name, t := range ts {
		if name == "__metadata__" {
			return fmt.Errorf("model: safetensors %s: a tensor cannot be named __metadata__", path)
		}
		if t == nil {
			return fmt.Errorf("model: safetensors %s: tensor %q is nil", path, name)
		}
		dt, ok := stWriteDTypes[t.DType()]
		if !ok {
			return fmt.Errorf("model: safetensors %s: tensor %q: dtype %s cannot be written", path, name, t.DType())
		}
		items = append(items, item{name, t, dt, stDTypes[dt].size})
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].size != items[j].size {
			return items[i].size > items[j].size
		}
		return items[i].name < items[j].name
	})
	type entry struct {
		DType       string    `json:"dtype"`
		Shape       []int     `json:"shape"`
		DataOffsets [2]uint64 `json:"data_offsets"`
	}
	header := make(map[string]any, len(items)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off uint64
	for _, it := range items {
		n := uint64(it.t.Size()) * uint64(it.size)
		header[it.name] = entry{DType: it.dtype, Shape: append([]int{}, it.t.Shape().Dimensions...), DataOffsets: [2]uint64{off, off + n}}
		off += n
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("model: safetensors %s: header: %w", path, err)
	}
	if pad := (8 - len(hdr)%8) % 8; pad > 0 {
		hdr = append(hdr, bytes.Repeat([]byte{' '}, pad)...)
	}
	return writeFileAtomicStream(path, func(w io.Writer) error {
		if err := binary.Write(w, binary.LittleEndian, uint64(len(hdr))); err != nil {
			return err
		}
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		for _, it := range items {
			if it.t.Size() == 0 {
				continue
			}
			var werr error
			if err := it.t.ConstBytes(func(data []byte) {
				if hostLittleEndian || it.size == 1 {
					_, werr = w.Write(data)
					return
				}
				tmp := make([]byte, 0, 1<<16)
				for i := 0; i < len(data); i += cap(tmp) {
					tmp = append(tmp[:0], data[i:min(len(data), i+cap(tmp))]...)
					swapBytes(tmp, it.size)
					if _, werr = w.Write(tmp); werr != nil {
						return
					}
				}
			}); err != nil {
				return fmt.Errorf("tensor %q: %w", it.name, err)
			}
			if werr != nil {
				return fmt.Errorf("tensor %q: %w", it.name, werr)
			}
		}
		return nil
	})
}

// writeFileAtomicStream is writeFileAtomic for data produced by write (see package atomicfile).
func writeFileAtomicStream(path string, write func(w io.Writer) error) error {
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}

// safetensorsLayout is a float32 safetensors file laid out in advance, so that the rows of each
// tensor (along its first axis) can be written into place in any order (RunToFile's chunks). The
// tensors are ordered by name, as WriteSafetensors orders same-size tensors.
type safetensorsLayout struct {
	header []byte           // length prefix and JSON header, padded to 8 bytes
	off    map[string]int64 // data offset of each tensor in the file
	row    map[string]int64 // values per row (first axis) of each tensor
	shapes map[string][]int
}

func newSafetensorsLayout(shapes map[string][]int, metadata map[string]string) (*safetensorsLayout, error) {
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		if n == "__metadata__" {
			return nil, errors.New("a tensor cannot be named __metadata__")
		}
		names = append(names, n)
	}
	sort.Strings(names)
	type entry struct {
		DType       string    `json:"dtype"`
		Shape       []int     `json:"shape"`
		DataOffsets [2]uint64 `json:"data_offsets"`
	}
	header := make(map[string]any, len(names)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	l := &safetensorsLayout{off: map[string]int64{}, row: map[string]int64{}, shapes: shapes}
	var off uint64
	rel := map[string]uint64{}
	for _, n := range names {
		size := uint64(4)
		for _, d := range shapes[n] {
			size *= uint64(d)
		}
		header[n] = entry{DType: "F32", Shape: append([]int{}, shapes[n]...), DataOffsets: [2]uint64{off, off + size}}
		rel[n] = off
		off += size
		per := int64(1)
		for _, d := range shapes[n][1:] {
			per *= int64(d)
		}
		l.row[n] = per
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if pad := (8 - len(hdr)%8) % 8; pad > 0 {
		hdr = append(hdr, bytes.Repeat([]byte{' '}, pad)...)
	}
	l.header = binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	l.header = append(l.header, hdr...)
	for n, o := range rel {
		l.off[n] = int64(len(l.header)) + int64(o)
	}
	return l, nil
}

// size is the file's size in bytes.
func (l *safetensorsLayout) size() int64 {
	n := int64(len(l.header))
	for name, per := range l.row {
		n += 4 * per * int64(l.shapes[name][0])
	}
	return n
}

func (l *safetensorsLayout) writeHeader(f io.WriterAt) error {
	_, err := f.WriteAt(l.header, 0)
	return err
}

// writeRows writes data, whole rows of tensor name starting at row b0, into place.
func (l *safetensorsLayout) writeRows(f io.WriterAt, name string, b0 int, data []float32) error {
	per, ok := l.row[name]
	if !ok {
		return fmt.Errorf("no tensor %q in the layout", name)
	}
	if int64(len(data))%per != 0 || int64(b0)+int64(len(data))/per > int64(l.shapes[name][0]) {
		return fmt.Errorf("tensor %q: %d values from row %d do not fit its shape %v", name, len(data), b0, l.shapes[name])
	}
	buf := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	_, err := f.WriteAt(buf, l.off[name]+int64(b0)*per*4)
	return err
}

// clip shortens raw JSON for an error message.
func clip(raw []byte) string {
	if len(raw) > 64 {
		return string(raw[:60]) + " ..."
	}
	return string(raw)
}
