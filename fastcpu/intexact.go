package fastcpu

// Exact integer paths for reductions, ArgMinMax and ConvertDType (no float64 round trip).

// reduceInts reduces an integer buffer in its own type (two's complement wrap, like Go and XLA).
func reduceInts[T integer](out, in []T, dims []int, reduced []bool, kind reduceKind) {
	outStr := make([]int, len(dims))
	s := 1
	for k := len(dims) - 1; k >= 0; k-- {
		if !reduced[k] {
			outStr[k] = s
			s *= dims[k]
		}
	}
	seen := make([]bool, len(out))
	if kind == rSum || kind == rProd {
		for i := range out {
			out[i] = T(kind.init())
			seen[i] = true
		}
	}
	idx := make([]int, len(dims))
	o := 0
	for _, v := range in {
		switch {
		case !seen[o]:
			out[o], seen[o] = v, true
		case kind == rSum:
			out[o] += v
		case kind == rProd:
			out[o] *= v
		case kind == rMax:
			out[o] = max(out[o], v)
		default:
			out[o] = min(out[o], v)
		}
		for k := len(dims) - 1; k >= 0; k-- {
			idx[k]++
			o += outStr[k]
			if idx[k] < dims[k] {
				break
			}
			o -= outStr[k] * dims[k]
			idx[k] = 0
		}
	}
}

// reduceIntsAny dispatches reduceInts; false if in is not an integer buffer.
func reduceIntsAny(out, in any, dims []int, reduced []bool, kind reduceKind) bool {
	switch f := in.(type) {
	case []int32:
		reduceInts(out.([]int32), f, dims, reduced, kind)
	case []int64:
		reduceInts(out.([]int64), f, dims, reduced, kind)
	case []int8:
		reduceInts(out.([]int8), f, dims, reduced, kind)
	case []int16:
		reduceInts(out.([]int16), f, dims, reduced, kind)
	case []uint8:
		reduceInts(out.([]uint8), f, dims, reduced, kind)
	case []uint16:
		reduceInts(out.([]uint16), f, dims, reduced, kind)
	case []uint32:
		reduceInts(out.([]uint32), f, dims, reduced, kind)
	case []uint64:
		reduceInts(out.([]uint64), f, dims, reduced, kind)
	default:
		return false
	}
	return true
}

// argMinMaxT compares in the input's own type (the first index on ties; the first NaN wins).
func argMinMaxT[T number](in []T, outer, dim, inner int, isMin bool, set func(int, float64)) {
	for o := range outer {
		for i := range inner {
			best, bestIdx := in[o*dim*inner+i], 0
			for d := 1; d < dim; d++ {
				v := in[(o*dim+d)*inner+i]
				if isNaN(best) {
					break
				}
				if isNaN(v) || (isMin && v < best) || (!isMin && v > best) {
					best, bestIdx = v, d
				}
			}
			set(o*inner+i, float64(bestIdx))
		}
	}
}

func argMinMaxAny(in any, outer, dim, inner int, isMin bool, set func(int, float64)) {
	switch f := in.(type) {
	case []float32:
		argMinMaxT(f, outer, dim, inner, isMin, set)
	case []float64:
		argMinMaxT(f, outer, dim, inner, isMin, set)
	case []int32:
		argMinMaxT(f, outer, dim, inner, isMin, set)
	case []int64:
		argMinMaxT(f, outer, dim, inner, isMin, set)
	case []int8:
		argMinMaxT(f, outer, dim, inner, isMin, set)
	case []int16:
		argMinMaxT(f, outer, dim, inner, isMin, set)
	case []uint8:
		argMinMaxT(f, outer, dim, inner, isMin, set)
	case []uint16:
		argMinMaxT(f, outer, dim, inner, isMin, set)
	case []uint32:
		argMinMaxT(f, outer, dim, inner, isMin, set)
	case []uint64:
		argMinMaxT(f, outer, dim, inner, isMin, set)
	default:
		panic("ArgMinMax: unsupported buffer")
	}
}

// convertFrom converts with Go's conversion rules (one rounding; integer narrowing wraps).
func convertFrom[F number](src []F, dst any) bool {
	switch d := dst.(type) {
	case []float32:
		for i, v := range src {
			d[i] = float32(v)
		}
	case []float64:
		for i, v := range src {
			d[i] = float64(v)
		}
	case []int32:
		for i, v := range src {
			d[i] = int32(v)
		}
	case []int64:
		for i, v := range src {
			d[i] = int64(v)
		}
	case []int8:
		for i, v := range src {
			d[i] = int8(v)
		}
	case []int16:
		for i, v := range src {
			d[i] = int16(v)
		}
	case []uint8:
		for i, v := range src {
			d[i] = uint8(v)
		}
	case []uint16:
		for i, v := range src {
			d[i] = uint16(v)
		}
	case []uint32:
		for i, v := range src {
			d[i] = uint32(v)
		}
	case []uint64:
		for i, v := range src {
			d[i] = uint64(v)
		}
	case []bool:
		for i, v := range src {
			d[i] = v != 0
		}
	default:
		return false
	}
	return true
}

func convertAny(src, dst any) bool {
	switch s := src.(type) {
	case []float32:
		return convertFrom(s, dst)
	case []float64:
		return convertFrom(s, dst)
	case []int32:
		return convertFrom(s, dst)
	case []int64:
		return convertFrom(s, dst)
	case []int8:
		return convertFrom(s, dst)
	case []int16:
		return convertFrom(s, dst)
	case []uint8:
		return convertFrom(s, dst)
	case []uint16:
		return convertFrom(s, dst)
	case []uint32:
		return convertFrom(s, dst)
	case []uint64:
		return convertFrom(s, dst)
	}
	return false // bool sources: the float64 path (0/1) is exact
}
