"""CAM++'s forward pass as an ONNX graph, written node by node from its weights.

CAM++ (3D-Speaker, Apache-2.0; the 192-dimension model trained on Chinese
and English, ``speech_campplus_sv_zh_en_16k-common_advanced``): a 2-D
convolutional head (four residual blocks over the 80 filterbank bins), a
strided TDNN layer, three blocks of densely connected TDNN layers (12, 24
and 16) whose outputs are gated by context-aware masking (the mean of the
whole recording and of each 100-frame segment), statistics pooling (mean and
standard deviation) and a dense layer to 192. The graph is built here with
the ``onnx`` package's helpers from the state dict's arrays, so nothing but
numbers comes from the weights file: no serialized model or code of anyone
else's is executed. Checked once, when it was written, against a numpy
forward pass of the same weights (vectors within 1e-5 on real recordings;
a one-off script); tests/test_names_real_call.py and bench.diarize's names
part hold it to real voices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dropscribe.speakers.weights import Weights

#: Changes whenever the graph below changes: part of the cached graph's name.
GRAPH_RECIPE = "campplus-onnx18/1"
OPSET = 18
EMBEDDING_SIZE = 192
#: The dense blocks: layers, kernel, dilation.
BLOCKS = ((12, 3, 1), (24, 3, 2), (16, 3, 2))
SEGMENT_FRAMES = 100
#: The head halves the 80 bins three times (strides 2, 2, 2).
HEAD_BINS = 10


class _Builder:
    """Collects the nodes and constants of one graph."""

    def __init__(self, weights: Weights) -> None:
        self.weights = weights
        self.nodes: list[Any] = []
        self.constants: list[Any] = []
        self._count = 0

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def const(self, array: Any) -> str:
        from onnx import numpy_helper

        name = self._name("c")
        self.constants.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def ints(self, *values: int) -> str:
        return self.const(np.array(values, np.int64))

    def op(self, kind: str, inputs: list[str], **attributes: Any) -> str:
        from onnx import helper

        name = self._name(kind)
        self.nodes.append(helper.make_node(kind, inputs, [name], **attributes))
        return name

    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    def norm(self, x: str, key: str, affine: bool = True) -> str:
        mean = self.weights[f"{key}.running_mean"]
        scale = self.weights[f"{key}.weight"] if affine else np.ones_like(mean)
        shift = self.weights[f"{key}.bias"] if affine else np.zeros_like(mean)
        variance = self.weights[f"{key}.running_var"]
        inputs = [x, *(self.const(a) for a in (scale, shift, mean, variance))]
        return self.op("BatchNormalization", inputs, epsilon=1e-5)

    def conv1d(self, x: str, key: str, pad: int = 0, dilation: int = 1, stride: int = 1) -> str:
        kernel = self.weights[f"{key}.weight"]
        inputs = [x, self.const(kernel)]
        if f"{key}.bias" in self.weights:
            inputs.append(self.const(self.weights[f"{key}.bias"]))
        return self.op(
            "Conv",
            inputs,
            kernel_shape=[kernel.shape[2]],
            strides=[stride],
            pads=[pad, pad],
            dilations=[dilation],
        )

    def conv2d(self, x: str, key: str, stride: int = 1) -> str:
        kernel = self.weights[f"{key}.weight"]
        size = kernel.shape[2]
        pad = size // 2
        return self.op(
            "Conv",
            [x, self.const(kernel)],
            kernel_shape=[size, size],
            strides=[stride, 1],
            pads=[pad, pad, pad, pad],
        )


def _residual(graph: _Builder, x: str, key: str, stride: int) -> str:
    inner = graph.relu(graph.norm(graph.conv2d(x, f"{key}.conv1", stride), f"{key}.bn1"))
    inner = graph.norm(graph.conv2d(inner, f"{key}.conv2"), f"{key}.bn2")
    shortcut = x
    if f"{key}.shortcut.0.weight" in graph.weights:
        shortcut = graph.norm(graph.conv2d(x, f"{key}.shortcut.0", stride), f"{key}.shortcut.1")
    return graph.relu(graph.op("Add", [inner, shortcut]))


def _head(graph: _Builder) -> str:
    """Filterbank frames (batch, frames, 80) to TDNN input (batch, 32 * 10, frames / 2)."""
    x = graph.op("Transpose", ["feats"], perm=[0, 2, 1])
    x = graph.op("Unsqueeze", [x, graph.ints(1)])
    x = graph.relu(graph.norm(graph.conv2d(x, "head.conv1"), "head.bn1"))
    for key, stride in (("layer1.0", 2), ("layer1.1", 1), ("layer2.0", 2), ("layer2.1", 1)):
        x = _residual(graph, x, f"head.{key}", stride)
    x = graph.relu(graph.norm(graph.conv2d(x, "head.conv2", 2), "head.bn2"))
    # (batch, 32 channels, 10 bins, frames) to (batch, 320, frames)
    channels = graph.weights["head.conv2.weight"].shape[0] * HEAD_BINS
    return graph.op("Reshape", [x, graph.ints(0, channels, -1)])


def _segment_means(graph: _Builder, h: str) -> str:
    """Each frame's 100-frame segment mean, broadcast back to every frame of it."""
    pooled = graph.op(
        "AveragePool",
        [h],
        kernel_shape=[SEGMENT_FRAMES],
        strides=[SEGMENT_FRAMES],
        ceil_mode=1,
        count_include_pad=0,
    )
    shape = graph.op("Concat", [graph.op("Shape", [pooled]), graph.ints(SEGMENT_FRAMES)], axis=0)
    spread = graph.op("Expand", [graph.op("Unsqueeze", [pooled, graph.ints(3)]), shape])
    flat = graph.op("Reshape", [spread, graph.ints(0, 0, -1)])
    frames = graph.op("Slice", [graph.op("Shape", [h]), graph.ints(2), graph.ints(3)])
    return graph.op("Slice", [flat, graph.ints(0), frames, graph.ints(2)])


def _dense_layer(graph: _Builder, x: str, key: str, kernel: int, dilation: int) -> str:
    h = graph.relu(graph.norm(x, f"{key}.nonlinear1.batchnorm"))
    h = graph.relu(graph.norm(graph.conv1d(h, f"{key}.linear1"), f"{key}.nonlinear2.batchnorm"))
    pad = (kernel - 1) // 2 * dilation
    local = graph.conv1d(h, f"{key}.cam_layer.linear_local", pad=pad, dilation=dilation)
    mean = graph.op("ReduceMean", [h, graph.ints(2)], keepdims=1)
    context = graph.op("Add", [mean, _segment_means(graph, h)])
    gate = graph.relu(graph.conv1d(context, f"{key}.cam_layer.linear1"))
    gate = graph.op("Sigmoid", [graph.conv1d(gate, f"{key}.cam_layer.linear2")])
    return graph.op("Concat", [x, graph.op("Mul", [local, gate])], axis=1)


def _statistics(graph: _Builder, x: str) -> str:
    """(batch, channels, frames) to (batch, 2 * channels, 1): mean and standard deviation
    (with Bessel's correction, as torch.std)."""
    axis = graph.ints(2)
    mean = graph.op("ReduceMean", [x, axis], keepdims=1)
    centred = graph.op("Sub", [x, mean])
    squares = graph.op("ReduceSum", [graph.op("Mul", [centred, centred]), axis], keepdims=0)
    frames = graph.op("Slice", [graph.op("Shape", [x]), graph.ints(2), graph.ints(3)])
    count = graph.op("Cast", [frames], to=1)  # to float
    less_one = graph.op("Sub", [count, graph.const(np.ones(1, np.float32))])
    deviation = graph.op("Sqrt", [graph.op("Div", [squares, less_one])])
    both = graph.op("Concat", [graph.op("Squeeze", [mean, axis]), deviation], axis=1)
    return graph.op("Unsqueeze", [both, axis])


def build_graph(weights: Weights) -> bytes:
    """Return the serialized ONNX model: ``feats`` (batch, frames, 80) in, ``embedding``
    (batch, 192) out (not normalised)."""
    from onnx import TensorProto, checker, helper

    graph = _Builder(weights)
    x = _head(graph)
    x = graph.relu(
        graph.norm(
            graph.conv1d(x, "xvector.tdnn.linear", pad=2, stride=2),
            "xvector.tdnn.nonlinear.batchnorm",
        )
    )
    for block, (layers, kernel, dilation) in enumerate(BLOCKS, 1):
        for layer in range(1, layers + 1):
            x = _dense_layer(graph, x, f"xvector.block{block}.tdnnd{layer}", kernel, dilation)
        key = f"xvector.transit{block}"
        x = graph.conv1d(graph.relu(graph.norm(x, f"{key}.nonlinear.batchnorm")), f"{key}.linear")
    x = graph.relu(graph.norm(x, "xvector.out_nonlinear.batchnorm"))
    x = graph.conv1d(_statistics(graph, x), "xvector.dense.linear")
    x = graph.norm(x, "xvector.dense.nonlinear.batchnorm", affine=False)
    graph.nodes.append(helper.make_node("Squeeze", [x, graph.ints(2)], ["embedding"]))
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "campplus",
            [helper.make_tensor_value_info("feats", TensorProto.FLOAT, ["batch", "frames", 80])],
            [
                helper.make_tensor_value_info(
                    "embedding", TensorProto.FLOAT, ["batch", EMBEDDING_SIZE]
                )
            ],
            graph.constants,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="dropscribe",
    )
    checker.check_model(model)
    return bytes(model.SerializeToString())
