package masshealth

import (
	"encoding/binary"
	"errors"
	"os"
)

// onnxCounts are what /model_info reports about the recognizer: the number
// of weights (the product of each initializer's dims, summed) and of graph
// nodes, read from the ONNX file's protobuf without a full decoder.
type onnxCounts struct {
	params int64
	nodes  int
}

var errProto = errors.New("onnx: malformed protobuf")

func onnxStats(path string) (onnxCounts, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return onnxCounts{}, err
	}
	var c onnxCounts
	// ModelProto.graph = 7; GraphProto.node = 1, .initializer = 5;
	// TensorProto.dims = 1.
	err = fields(b, func(num int, wt int, v []byte, _ uint64) error {
		if num != 7 || wt != 2 {
			return nil
		}
		return fields(v, func(num int, wt int, v []byte, _ uint64) error {
			switch {
			case num == 1 && wt == 2:
				c.nodes++
			case num == 5 && wt == 2:
				n := int64(1)
				err := fields(v, func(num int, wt int, v []byte, x uint64) error {
					if num != 1 {
						return nil
					}
					if wt == 0 {
						n *= int64(x)
						return nil
					}
					for len(v) > 0 { // packed
						d, k := binary.Uvarint(v)
						if k <= 0 {
							return errProto
						}
						n *= int64(d)
						v = v[k:]
					}
					return nil
				})
				if err != nil {
					return err
				}
				c.params += n
			}
			return nil
		})
	})
	return c, err
}

// fields walks one protobuf message, calling fn for each field with its
// number, wire type, bytes (wire type 2) or varint value (wire type 0).
func fields(b []byte, fn func(num, wt int, v []byte, x uint64) error) error {
	for len(b) > 0 {
		key, k := binary.Uvarint(b)
		if k <= 0 {
			return errProto
		}
		b = b[k:]
		num, wt := int(key>>3), int(key&7)
		switch wt {
		case 0:
			x, k := binary.Uvarint(b)
			if k <= 0 {
				return errProto
			}
			b = b[k:]
			if err := fn(num, wt, nil, x); err != nil {
				return err
			}
		case 1:
			if len(b) < 8 {
				return errProto
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return errProto
			}
			b = b[4:]
		case 2:
			l, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < l {
				return errProto
			}
			v := b[k : k+int(l)]
			b = b[k+int(l):]
			if err := fn(num, wt, v, 0); err != nil {
				return err
			}
		default:
			return errProto
		}
	}
	return nil
}
