#!/usr/bin/python3
"""Static int8 (QDQ) recognizer from the fetched fp32 fr_feature.onnx, with
Debian's python3-onnx only (ONNX Runtime's own quantiser is not installable
here). Issue 14's reduced-precision trial; the result was not adopted
(BENCHMARKS.md, "Inference runtimes").

  augment  SRC AUG NAMES      SRC with every Conv input/output as a graph
                              output (for vz_calib), tensor names to NAMES
  quantize SRC RANGES DST     QDQ model: uint8 activations (per tensor, from
                              vz_calib's min/max), int8 weights per output
                              channel (symmetric), int32 biases; ONNX Runtime
                              fuses DequantizeLinear-Conv-QuantizeLinear
                              into QLinearConv (VNNI where the CPU has it)

The whole trial (run from the repository root after `make native models`):

  /usr/bin/python3 bench/quant/quantize.py augment models/fr_feature.onnx /tmp/aug.onnx /tmp/names.txt
  build/cpu/native/vz_calib --models models --net /tmp/aug.onnx --names /tmp/names.txt ../shared/data/faces > /tmp/ranges.json
  /usr/bin/python3 bench/quant/quantize.py quantize models/fr_feature.onnx /tmp/ranges.json /tmp/fr_feature_int8.onnx
"""
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv_tensors(g):
    names = []
    for n in g.node:
        if n.op_type == "Conv":
            for t in (n.input[0], n.output[0]):
                if t not in names and t not in {i.name for i in g.input}:
                    names.append(t)
    return names


def augment(src, dst, names_file):
    m = onnx.load(src)
    names = conv_tensors(m.graph)
    for t in names:
        m.graph.output.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, None))
    onnx.save(m, dst)
    with open(names_file, "w") as f:
        f.write("\n".join(names) + "\n")


def quantize(src, ranges_file, dst):
    with open(ranges_file) as f:
        ranges = json.load(f)
    m = onnx.load(src)
    g = m.graph
    inp = g.input[0].name
    ranges.setdefault(inp, [-127 / 128, 128 / 128])  # the manifest's mean 127, std 128
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = 13  # per-axis DequantizeLinear
    inits = {i.name: i for i in g.initializer}
    nodes, new_inits, done = [], [], {}

    def act(t):
        lo, hi = ranges[t]
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        s = (hi - lo) / 255.0 or 1e-8
        return np.float32(s), np.uint8(np.clip(round(-lo / s), 0, 255))

    def qdq_input(t):
        if t not in done:
            s, zp = act(t)
            new_inits.extend([numpy_helper.from_array(np.array(s), t + "_s"), numpy_helper.from_array(np.array(zp), t + "_zp")])
            nodes.append(helper.make_node("QuantizeLinear", [t, t + "_s", t + "_zp"], [t + "_q"]))
            nodes.append(helper.make_node("DequantizeLinear", [t + "_q", t + "_s", t + "_zp"], [t + "_dq"]))
            done[t] = (t + "_dq", s)
        return done[t]

    for n in g.node:
        if n.op_type != "Conv":
            nodes.append(n)
            continue
        xdq, sx = qdq_input(n.input[0])
        w = n.input[1]
        W = numpy_helper.to_array(inits[w]).astype(np.float32)
        C = W.shape[0]
        sw = np.maximum(np.abs(W.reshape(C, -1)).max(1) / 127.0, 1e-12).astype(np.float32)
        Wq = np.clip(np.round(W / sw.reshape(-1, *[1] * (W.ndim - 1))), -127, 127).astype(np.int8)
        new_inits.extend([numpy_helper.from_array(Wq, w + "_q"), numpy_helper.from_array(sw, w + "_s"),
                          numpy_helper.from_array(np.zeros(C, np.int8), w + "_zp")])
        nodes.append(helper.make_node("DequantizeLinear", [w + "_q", w + "_s", w + "_zp"], [w + "_dq"], axis=0))
        ins = [xdq, w + "_dq"]
        if len(n.input) > 2 and n.input[2]:
            b = n.input[2]
            sb = (sx * sw).astype(np.float32)
            Bq = np.round(numpy_helper.to_array(inits[b]).astype(np.float32) / sb).astype(np.int32)
            new_inits.extend([numpy_helper.from_array(Bq, b + "_q"), numpy_helper.from_array(sb, b + "_s"),
                              numpy_helper.from_array(np.zeros(C, np.int32), b + "_zp")])
            nodes.append(helper.make_node("DequantizeLinear", [b + "_q", b + "_s", b + "_zp"], [b + "_dq"], axis=0))
            ins.append(b + "_dq")
        y = n.output[0]
        conv = helper.make_node("Conv", ins, [y + "_pre"], name=n.name)
        conv.attribute.extend(n.attribute)
        nodes.append(conv)
        s, zp = act(y)
        new_inits.extend([numpy_helper.from_array(np.array(s), y + "_ys"), numpy_helper.from_array(np.array(zp), y + "_yzp")])
        nodes.append(helper.make_node("QuantizeLinear", [y + "_pre", y + "_ys", y + "_yzp"], [y + "_yq"]))
        nodes.append(helper.make_node("DequantizeLinear", [y + "_yq", y + "_ys", y + "_yzp"], [y]))
    used = {i for n in nodes for i in n.input}
    keep = [i for i in g.initializer if i.name in used] + new_inits
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(keep)
    del g.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, dst)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "augment":
        augment(*sys.argv[2:])
    elif len(sys.argv) == 5 and sys.argv[1] == "quantize":
        quantize(*sys.argv[2:])
    else:
        sys.exit(__doc__)
