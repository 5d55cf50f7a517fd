"""YuNet on onnxruntime, decoded exactly as OpenCV's FaceDetectorYN decodes it.

The model file is OpenCV Zoo's `face_detection_yunet_2023mar.onnx` (hash-checked by
`faces.yunet_path`). Its input is declared as 1x3x640x640, but the network is fully
convolutional and ends in reshapes to (1, -1, k): with the two spatial sizes declared
free, it runs on any multiple of 32, as OpenCV runs it. onnxruntime takes 34 ms a
1024x1024 tile on one core here, OpenCV 5's DNN 73 ms (`loadtest/bench_encoder.py`).

`Detector.detect` returns what `cv2.FaceDetectorYN.detect` returns: (1, rows) with a
row (x, y, w, h, 5 landmarks as x, y, score) per face, or (1, None). The decoding
and the NMS follow OpenCV's `modules/objdetect/src/face_detect.cpp` and
`NMSBoxes` (score threshold, then a stable sort by score, then greedy suppression
of integer boxes overlapping a kept one by IoU > the threshold).
"""

from __future__ import annotations

from typing import Any

import numpy as np

STRIDES = (8, 16, 32)
DIVISOR = 32


def free_input_size(model: bytes) -> bytes:
    """The model with its input's height and width (and its outputs' shapes) left free."""
    import onnx

    graph = onnx.load_from_string(model)
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    for dim in dims[2:]:
        dim.ClearField("dim_value")
        dim.dim_param = "side"
    for output in graph.graph.output:
        output.type.tensor_type.ClearField("shape")
    del graph.graph.value_info[:]
    return bytes(graph.SerializeToString())


class Detector:
    """One input size, one score threshold, like a `cv2.FaceDetectorYN`."""

    def __init__(self, model: bytes, side: int, score: float, nms: float, top_k: int) -> None:
        from workers.resnet import session

        self._session = session(free_input_size(model))
        self.side = side
        self.padded = ((side - 1) // DIVISOR + 1) * DIVISOR
        self.score = score
        self.nms = nms
        self.top_k = top_k
        self._input = np.zeros((1, 3, self.padded, self.padded), dtype=np.float32)

    def detect(self, bgr: np.ndarray) -> tuple[int, np.ndarray | None]:
        """Faces in a side x side BGR uint8 image: (1, an (N, 15) float32 array or None)."""
        if bgr.shape[:2] != (self.side, self.side):
            raise ValueError(f"the detector takes {self.side}x{self.side}, not {bgr.shape[:2]}")
        # OpenCV's blobFromImage: BGR, no mean, no scale; padded with zeros to a multiple of 32.
        self._input[0, :, : self.side, : self.side] = bgr.transpose(2, 0, 1)
        return self._run()

    def detect_rgb(self, rgb: np.ndarray) -> tuple[int, np.ndarray | None]:
        """`detect` on an RGB region at most side x side, as if copied into a black BGR
        tile: each channel is read from the region where it lies (a tile copy and its
        transpose cost 10 ms, a third of the network's time)."""
        h, w = rgb.shape[:2]
        if h > self.side or w > self.side:
            raise ValueError(f"the detector takes {self.side}x{self.side}, not {rgb.shape[:2]}")
        if h < self.side or w < self.side:
            self._input[:] = 0
        for channel in range(3):
            self._input[0, channel, :h, :w] = rgb[:, :, 2 - channel]
        return self._run()

    def _run(self) -> tuple[int, np.ndarray | None]:
        outputs = self._session.run(None, {"input": self._input})
        rows = _decode(outputs, self.padded, self.score)
        if len(rows) > 1:
            rows = rows[_nms(rows, self.score, self.nms, self.top_k)]
        return 1, (rows if len(rows) else None)


def _decode(outputs: list[Any], padded: int, threshold: float) -> np.ndarray:
    found = []
    for i, stride in enumerate(STRIDES):
        cols = padded // stride
        cls = np.clip(outputs[i].reshape(-1), 0, 1)
        obj = np.clip(outputs[i + 3].reshape(-1), 0, 1)
        score = np.sqrt(cls * obj)
        keep = np.flatnonzero(score >= threshold)
        if not len(keep):
            continue
        bbox = outputs[i + 6].reshape(-1, 4)[keep]
        kps = outputs[i + 9].reshape(-1, 10)[keep]
        c = (keep % cols).astype(np.float32)
        r = (keep // cols).astype(np.float32)
        w = np.exp(bbox[:, 2]) * stride
        h = np.exp(bbox[:, 3]) * stride
        x1 = (c + bbox[:, 0]) * stride - w / 2
        y1 = (r + bbox[:, 1]) * stride - h / 2
        points = (kps.reshape(-1, 5, 2) + np.stack([c, r], axis=1)[:, None, :]) * stride
        found.append(
            np.column_stack([x1, y1, w, h, points.reshape(-1, 10), score[keep]]).astype(np.float32)
        )
    return np.concatenate(found) if found else np.zeros((0, 15), dtype=np.float32)


def _nms(rows: np.ndarray, threshold: float, nms: float, top_k: int) -> list[int]:
    """The indices OpenCV's NMSBoxes keeps, on the boxes truncated to integers as it takes them."""
    scores = rows[:, 14]
    order = [i for i in np.argsort(-scores, kind="stable") if scores[i] > threshold][:top_k]
    x, y, w, h = (np.trunc(rows[:, k]).astype(np.int64) for k in range(4))
    kept: list[int] = []
    for i in order:
        if kept:
            k = np.asarray(kept)
            iw = np.maximum(0, np.minimum(x[i] + w[i], x[k] + w[k]) - np.maximum(x[i], x[k]))
            ih = np.maximum(0, np.minimum(y[i] + h[i], y[k] + h[k]) - np.maximum(y[i], y[k]))
            inter = iw * ih
            union = w[i] * h[i] + w[k] * h[k] - inter
            if np.any(inter / np.maximum(union, 1e-9) > nms):
                continue
        kept.append(int(i))
    return kept
