"""dlib's face-recognition ResNet, read from its own file and run as an ONNX graph.

`dlib_face_recognition_resnet_model_v1.dat` (from the `face_recognition_models`
wheel) is dlib's serialization of the network in dlib's `dnn_face_recognition_ex.cpp`:

    input 150x150 RGB, (pixel - mean) / 256
    con 32 7x7 /2 → affine → relu → max_pool 3x3 /2
    3 x res 32, res_down 64, 3 x res 64, res_down 128, 2 x res 128,
    res_down 256, 2 x res 256, res_down 256
    avg_pool_everything → fc_no_bias 128

where `res N` is relu(x + affine(con N 3x3(relu(affine(con N 3x3(x)))))) and
`res_down N` strides its first conv by 2 and adds avg_pool 2x2 /2 of x. dlib
adds tensors of different shapes by treating the missing elements as zeros, so a
skip with fewer channels, or a block output a row shorter (4x4 input: 2x2 pool,
1x1 conv), is zero-padded at the end before the sum.

The file holds the weights, not the wiring (the wiring is C++ templates): `read`
walks the file field by field, checks every layer against `LAYERS` (kind,
filters, kernel, stride, padding, tensor sizes) and fails on anything else, so a
different model file is refused, never half-read. `build_onnx` writes the graph
with each affine folded into the conv before it; `Encoder` runs it with
onnxruntime on one thread.

dlib's serialization (dlib/serialize.h, dlib/dnn/*.h):
- an integer is one byte (its length in the low nibble, bit 7 its sign), then
  that many bytes, little-endian;
- a float is two integers, mantissa and base-2 exponent;
- a bool is the character '0' or '1'; a string is its length, then its bytes;
- a tensor is version 2, (n, k, rows, cols), then n*k*rows*cols float32, little-endian;
- a network is written top down: each layer's version first (2 for a
  computing layer, 3 for the one on the input, 1 for a tag or a skip), then, bottom up,
  the input and each computing layer's details followed by three bools and three
  empty tensors (gradients and cached outputs); the layer on the input adds its
  sample expansion factor (1).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MODEL_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
"""sha256 of dlib_face_recognition_resnet_model_v1.dat in face_recognition_models 0.3.0."""
CHIP = 150
"""The network's input: a 150x150 aligned chip (dlib's get_face_chip)."""
DIMENSIONS = 128


class ModelFileError(ValueError):
    """The file is not the network this module knows, or is damaged."""


@dataclass(frozen=True)
class Con:
    filters: int
    kernel: int
    stride: int


@dataclass(frozen=True)
class Block:
    """A residual block: two 3x3 convs with affines, added to its input (or its pooled input)."""

    filters: int
    down: bool


BLOCKS = (
    *[Block(32, False)] * 3,
    Block(64, True),
    *[Block(64, False)] * 3,
    Block(128, True),
    *[Block(128, False)] * 2,
    Block(256, True),
    *[Block(256, False)] * 2,
    Block(256, True),
)
"""Input side first: alevel4, alevel3, alevel2, alevel1, alevel0 of dnn_face_recognition_ex."""


def _layers() -> list[tuple[str, Any]]:
    """The layers in the file's order (input side first), as (name, what to check)."""
    out: list[tuple[str, Any]] = [
        ("con_4", Con(32, 7, 2)),
        ("affine_", 32),
        ("relu_", None),
        ("max_pool_2", (3, 3, 2, 2)),
    ]
    for block in BLOCKS:
        out += [
            ("con_4", Con(block.filters, 3, 2 if block.down else 1)),
            ("affine_", block.filters),
            ("relu_", None),
            ("con_4", Con(block.filters, 3, 1)),
            ("affine_", block.filters),
        ]
        if block.down:
            out.append(("avg_pool_2", (2, 2, 2, 2)))
        out += [("add_prev_", None), ("relu_", None)]
    out += [("avg_pool_2", (0, 0, 1, 1)), ("fc_2", DIMENSIONS)]
    return out


LAYERS = _layers()


@dataclass
class Weights:
    """What the file holds, as float32 arrays: `convs` in order, each (weights, bias), with
    the affine after it (scale, shift) kept apart; `fc` is (inputs, 128)."""

    mean_rgb: tuple[float, float, float]
    convs: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    affines: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    fc: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def _take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise ModelFileError(f"the file ends at byte {len(self.data)}, inside a field")
        chunk = self.data[self.at : self.at + n]
        self.at += n
        return chunk

    def integer(self) -> int:
        head = self._take(1)[0]
        size = head & 0x0F
        if size > 8 or head & 0x70:
            raise ModelFileError(f"no integer at byte {self.at - 1}")
        value = int.from_bytes(self._take(size), "little")
        return -value if head & 0x80 else value

    def real(self) -> float:
        mantissa = self.integer()
        return float(np.ldexp(float(mantissa), self.integer()))

    def flag(self) -> bool:
        char = self._take(1)
        if char not in (b"0", b"1"):
            raise ModelFileError(f"no bool at byte {self.at - 1}")
        return char == b"1"

    def text(self) -> str:
        return self._take(self.integer()).decode("ascii", "replace")

    def expect(self, what: str, got: object, want: object) -> None:
        if got != want:
            raise ModelFileError(f"{what}: {got!r} where {want!r} was expected (byte {self.at})")

    def tensor(self) -> tuple[tuple[int, int, int, int], np.ndarray]:
        self.expect("tensor version", self.integer(), 2)
        shape = (self.integer(), self.integer(), self.integer(), self.integer())
        count = int(np.prod(shape))
        values = np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)
        return shape, values

    def alias(self) -> tuple[int, int, int, int]:
        """An alias_tensor: version 1, its shape, no data."""
        self.expect("alias version", self.integer(), 1)
        return (self.integer(), self.integer(), self.integer(), self.integer())

    def layer_tail(self) -> None:
        """After each computing layer: three bools and three empty tensors."""
        for _ in range(3):
            self.flag()
        for _ in range(3):
            shape, _ = self.tensor()
            self.expect("a gradient or cached tensor", shape, (0, 0, 0, 0))


def read(path: str | Path, *, sha256: str | None = MODEL_SHA256) -> Weights:
    """The network's weights from dlib's file, every layer checked against LAYERS."""
    data = Path(path).read_bytes()
    if sha256 is not None and (digest := hashlib.sha256(data).hexdigest()) != sha256:
        raise ModelFileError(f"{path} has sha256 {digest}, not {sha256}")
    return parse(data)


def parse(data: bytes) -> Weights:
    r = _Reader(data)
    r.expect("loss layer version", r.integer(), 1)
    r.expect("loss", r.text(), "loss_metric_2")
    r.real(), r.real()  # the training margin and distance threshold
    # Top down: 2 per computing layer (including the loss's input), 1 per tag or skip.
    computing = len(LAYERS)
    versions = []
    while (value := r.integer()) in (1, 2):
        versions.append(value)
    r.expect("the first layer's version (the one on the input)", value, 3)
    r.expect("computing layers", versions.count(2) + 1, computing)
    # A block has tag1; a block going down also tag2 and skip1.
    r.expect("tags and skips", versions.count(1), len(BLOCKS) + 2 * sum(b.down for b in BLOCKS))
    r.expect("input", r.text(), "input_rgb_image_sized")
    mean = (r.real(), r.real(), r.real())
    r.expect("input size", (r.integer(), r.integer()), (CHIP, CHIP))
    weights = Weights(mean_rgb=mean)
    channels = 3
    for name, want in LAYERS:
        r.expect("layer", r.text(), name)
        if name == "con_4":
            shape, params = r.tensor()
            # dlib pads a conv of stride 1 by half its kernel, a strided one not at all.
            pad = want.kernel // 2 if want.stride == 1 else 0
            r.expect(
                "conv",
                [r.integer() for _ in range(7)],
                [want.filters, want.kernel, want.kernel, want.stride, want.stride, pad, pad],
            )
            filters = (want.filters, channels, want.kernel, want.kernel)
            r.expect("filters", r.alias(), filters)
            r.expect("biases", r.alias(), (1, want.filters, 1, 1))
            size = int(np.prod(filters))
            r.expect("conv parameters", shape, (size + want.filters, 1, 1, 1))
            for _ in range(4):
                r.real()  # learning-rate and weight-decay multipliers
            weights.convs.append((params[:size].reshape(filters), params[size:]))
            channels = want.filters
        elif name == "affine_":
            shape, params = r.tensor()
            r.expect("affine parameters", shape, (2 * want, 1, 1, 1))
            r.expect("gamma", r.alias(), (1, want, 1, 1))
            r.expect("beta", r.alias(), (1, want, 1, 1))
            r.expect("affine mode (per channel)", r.integer(), 0)
            weights.affines.append((params[:want], params[want:]))
        elif name in ("max_pool_2", "avg_pool_2"):
            r.expect("pool", tuple(r.integer() for _ in range(4)), want)
            r.expect("pool padding", (r.integer(), r.integer()), (0, 0))
        elif name == "fc_2":
            r.expect("fc outputs", r.integer(), want)
            r.expect("fc inputs", r.integer(), channels)
            shape, params = r.tensor()
            r.expect("fc parameters", shape, (channels, want, 1, 1))
            r.expect("fc weights", r.alias(), (channels, want, 1, 1))
            r.expect("fc biases", r.alias(), (0, 0, 0, 0))
            r.expect("fc bias mode (none)", r.integer(), 1)
            for _ in range(4):
                r.real()
            weights.fc = params.reshape(channels, want)
        r.layer_tail()
        if name == "con_4" and not weights.convs[1:]:  # the layer on the input (version 3)
            r.expect("sample expansion factor", r.integer(), 1)
    if r.at != len(data):
        raise ModelFileError(f"{len(data) - r.at} bytes follow the last layer")
    return weights


def _out(size: int, kernel: int, stride: int, pad: int) -> int:
    """dlib's (and ONNX's) output size: 1 + (size + 2 pad - kernel) / stride, floored."""
    return 1 + (size + 2 * pad - kernel) // stride


def build_onnx(weights: Weights) -> bytes:
    """The network as a serialized ONNX model: input `chips` (N, 3, 150, 150), already
    normalized as dlib's input layer does, output `descriptors` (N, 128).

    Each affine is folded into the conv before it: gamma (W x + b) + beta is the conv
    with weights gamma W and bias gamma b + beta."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    init: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        init.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    layer = iter(zip(weights.convs, weights.affines, strict=True))

    def conv(x: str, name: str, stride: int, relu: bool) -> str:
        (w, b), (gamma, beta) = next(layer)
        k = w.shape[-1]
        pad = k // 2 if stride == 1 else 0
        folded = (w * gamma[:, None, None, None], gamma * b + beta)
        y = node(
            "Conv",
            [x, const(f"{name}.w", folded[0]), const(f"{name}.b", folded[1])],
            name,
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[pad] * 4,
        )
        return node("Relu", [y], f"{name}.relu") if relu else y

    x = conv("chips", "stem", 2, relu=True)
    x = node("MaxPool", [x], "stem.pool", kernel_shape=[3, 3], strides=[2, 2])
    size = _out(_out(CHIP, 7, 2, 0), 3, 2, 0)
    channels = 32
    for n, block in enumerate(BLOCKS):
        stride = 2 if block.down else 1
        y = conv(x, f"b{n}.conv1", stride, relu=True)
        y = conv(y, f"b{n}.conv2", 1, relu=False)
        skip = x
        if block.down:
            skip = node("AveragePool", [x], f"b{n}.pool", kernel_shape=[2, 2], strides=[2, 2])
            pooled, convolved = _out(size, 2, 2, 0), _out(size, 3, 2, 0)
            # dlib's add: the smaller tensor is zero-padded at the end of each axis.
            if convolved < pooled:
                pads = np.array([0, 0, 0, 0, 0, 0, pooled - convolved, pooled - convolved])
                y = node("Pad", [y, const(f"b{n}.pad", pads)], f"b{n}.padded")
            if channels < block.filters:
                pads = np.array([0, 0, 0, 0, 0, block.filters - channels, 0, 0])
                skip = node("Pad", [skip, const(f"b{n}.widen", pads)], f"b{n}.widened")
            size = pooled
        x = node("Relu", [node("Add", [y, skip], f"b{n}.add")], f"b{n}.out")
        channels = block.filters
    x = node("Flatten", [node("GlobalAveragePool", [x], "pool")], "flat")
    node("MatMul", [x, const("fc", weights.fc)], "descriptors")
    graph = helper.make_graph(
        nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("chips", TensorProto.FLOAT, ["n", 3, CHIP, CHIP])],
        [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["n", DIMENSIONS])],
        init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def normalize(chips: np.ndarray, mean_rgb: tuple[float, float, float]) -> np.ndarray:
    """dlib's input_rgb_image: (pixel - mean) / 256, as (N, 3, 150, 150) float32."""
    x = chips.astype(np.float32) - np.asarray(mean_rgb, dtype=np.float32)
    x *= np.float32(1 / 256)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


BATCH = 16
"""Chips per run of the network: on one core 16 take 4.4 ms a face, 8 take 4.4, 1 takes
6.0 (`loadtest/bench_encoder.py`); a batch of 16 holds ~20 MB of activations."""


def session(model: bytes) -> Any:
    """An onnxruntime session on one thread: a worker is one process on one core, and
    it forks a child per job, so no thread pool may exist when it forks."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: not the shape notes of every load
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class Encoder:
    """dlib's face encoder on onnxruntime: the same weights, vectors within 1e-6 of dlib's."""

    def __init__(self, weights: Weights) -> None:
        self.mean_rgb = weights.mean_rgb
        self._session = session(build_onnx(weights))

    @classmethod
    def load(cls, path: str | Path) -> Encoder:
        return cls(read(path))

    def encode(self, chips: list[np.ndarray]) -> np.ndarray:
        """(N, 128) float64 descriptors of N aligned 150x150 RGB uint8 chips."""
        if not chips:
            return np.zeros((0, DIMENSIONS))
        x = normalize(np.stack(chips), self.mean_rgb)
        out = [
            self._session.run(None, {"chips": x[i : i + BATCH]})[0] for i in range(0, len(x), BATCH)
        ]
        return np.concatenate(out).astype(np.float64)
