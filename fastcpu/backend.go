package fastcpu

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/notimplemented"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// BackendName is the name this backend is registered under with GoMLX.
const BackendName = "fastcpu"

func init() {
	backends.Register(BackendName, New)
}

// Backend is the fastcpu GoMLX backend: one device (the host), buffers shared with tensors.
type Backend struct {
	config    string
	finalized bool
}

var _ backends.Backend = (*Backend)(nil)

// New returns a fastcpu backend. The config string is accepted for symmetry with other
// backends; no options are defined yet.
func New(config string) (backends.Backend, error) {
	if config != "" {
		return nil, errors.Errorf("backend %q: unknown configuration %q (no options)", BackendName, config)
	}
	return &Backend{config: config}, nil
}

func (b *Backend) Name() string   { return BackendName }
func (b *Backend) String() string { return BackendName }

// Description says what runs the matmuls.
func (b *Backend) Description() string {
	return fmt.Sprintf("fastcpu: interp's CPU backend (matmul: %s)", GemmImpl())
}
func (b *Backend) NumDevices() int                                             { return 1 }
func (b *Backend) DeviceDescription(backends.DeviceNum) string                 { return "cpu#0" }
func (b *Backend) Finalize()                                                   { b.finalized = true }
func (b *Backend) IsFinalized() bool                                           { return b.finalized }
func (b *Backend) HasSharedBuffers() bool                                      { return true }
func (b *Backend) BufferDeviceNum(backends.Buffer) (backends.DeviceNum, error) { return 0, nil }

// Capabilities lists the ops this backend implements.
func (b *Backend) Capabilities() backends.Capabilities {
	c := backends.Capabilities{Operations: map[backends.OpType]bool{}, DTypes: map[dtypes.DType]bool{}}
	for op := range implementedOps {
		c.Operations[op] = true
	}
	for _, dt := range supportedDTypes {
		c.DTypes[dt] = true
	}
	return c
}

var supportedDTypes = []dtypes.DType{dtypes.Float32, dtypes.Float64, dtypes.Int32, dtypes.Int64, dtypes.Bool,
	dtypes.Uint8, dtypes.Int8, dtypes.Uint32, dtypes.Uint64, dtypes.Int16, dtypes.Uint16}

// Builder returns a graph builder.
func (b *Backend) Builder(name string) backends.Builder {
	bl := &Builder{backend: b, name: name}
	bl.Builder.ErrFn = func(op backends.OpType) error {
		recordMissing(op)
		return errors.Wrapf(notimplemented.NotImplementedError, "op %q not implemented by backend %q", op, BackendName)
	}
	return bl
}

// Buffer is a tensor on the host: shape and a flat Go slice ([]float32, []int32, ...).
type Buffer struct {
	shape shapes.Shape
	flat  any
	// owned marks an executable's output: its data is its own (Execute never hands out data that
	// another live buffer shares, and GoMLX copies an output to read it), so finalizing it returns
	// the memory to the pool of kernel outputs.
	owned bool
}

func toBuffer(b backends.Buffer) (*Buffer, error) {
	buf, ok := b.(*Buffer)
	if !ok || buf == nil {
		return nil, errors.Errorf("backend %q: buffer %T is not a fastcpu buffer", BackendName, b)
	}
	if buf.flat == nil {
		return nil, errors.Errorf("backend %q: buffer already finalized", BackendName)
	}
	return buf, nil
}

func (b *Backend) BufferFinalize(buffer backends.Buffer) error {
	buf, err := toBuffer(buffer)
	if err != nil {
		return err
	}
	if buf.owned {
		release(buf)
	}
	buf.flat = nil
	return nil
}

func (b *Backend) BufferShape(buffer backends.Buffer) (shapes.Shape, error) {
	buf, err := toBuffer(buffer)
	if err != nil {
		return shapes.Invalid(), err
	}
	return buf.shape, nil
}

func (b *Backend) BufferToFlatData(buffer backends.Buffer, flat any) error {
	buf, err := toBuffer(buffer)
	if err != nil {
		return err
	}
	dst, src := reflect.ValueOf(flat), reflect.ValueOf(buf.flat)
	if dst.Kind() != reflect.Slice || dst.Type() != src.Type() || dst.Len() != src.Len() {
		return errors.Errorf("backend %q: BufferToFlatData: want %s[%d], got %T[%d]", BackendName, src.Type(), src.Len(), flat, dst.Len())
	}
	reflect.Copy(dst, src)
	return nil
}

func (b *Backend) BufferFromFlatData(_ backends.DeviceNum, flat any, shape shapes.Shape) (backends.Buffer, error) {
	src := reflect.ValueOf(flat)
	if src.Kind() != reflect.Slice || src.Type().Elem() != shape.DType.GoType() || src.Len() != shape.Size() {
		return nil, errors.Errorf("backend %q: BufferFromFlatData: flat %T[%d] does not match shape %s", BackendName, flat, src.Len(), shape)
	}
	buf := newZeroBuffer(shape)
	reflect.Copy(reflect.ValueOf(buf.flat), src)
	return buf, nil
}

func (b *Backend) NewSharedBuffer(_ backends.DeviceNum, shape shapes.Shape) (backends.Buffer, any, error) {
	buf := newZeroBuffer(shape)
	return buf, buf.flat, nil
}

func (b *Backend) BufferData(buffer backends.Buffer) (any, error) {
	buf, err := toBuffer(buffer)
	if err != nil {
		return nil, err
	}
	return buf.flat, nil
}

func (b *Backend) BufferCopyToDevice(backends.Buffer, backends.DeviceNum) (backends.Buffer, error) {
	return nil, errors.Errorf("backend %q: a single device; nothing to copy to", BackendName)
}

// IsNotImplemented reports whether err says a graph used an op this backend lacks, in which case
// the caller may run the graph on another backend.
func IsNotImplemented(err error) bool {
	return err != nil && (errors.Is(err, notimplemented.NotImplementedError) ||
		strings.Contains(err.Error(), "not implemented by backend \""+BackendName+"\""))
}
