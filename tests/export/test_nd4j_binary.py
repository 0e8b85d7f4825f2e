"""Nd4j binary arrays: round trips, byte-identical re-writes of real DL4J files, old formats."""
from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import DL4JFileError, ExportError
from workbench.export.nd4j_binary import array_bytes_size, read_array, write_array



@pytest.fixture(scope="module")
def ref(dl4j_reference) -> Path:
    return dl4j_reference


def _write(arr, **kw) -> bytes:
    buf = io.BytesIO()
    n = write_array(buf, arr, **kw)
    assert n == len(buf.getvalue())
    return buf.getvalue()


def _read(data: bytes) -> np.ndarray:
    return read_array(io.BytesIO(data))


def _coefficients(zip_path: Path) -> bytes:
    with zipfile.ZipFile(zip_path) as zf:
        return zf.read("coefficients.bin")


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "int64", "int8", "uint8", "bool"])
@pytest.mark.parametrize("shape", [(), (1,), (5,), (1, 7), (7, 1), (2, 3, 4), (2, 1, 3, 1), (2, 0)])
def test_round_trip(dtype, shape):
    rng = np.random.default_rng(sum(shape) + len(dtype))
    arr = (rng.standard_normal(shape) * 100).astype(dtype)
    data = _write(arr)
    assert len(data) == array_bytes_size(shape, dtype)
    back = _read(data)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    assert np.array_equal(back, arr)


def test_non_contiguous_and_big_endian_inputs_are_written_in_logical_c_order():
    base = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    for view in (base[:, ::2, 1:], base.transpose(2, 0, 1), np.asfortranarray(base), base.astype(">f4")):
        assert _write(view) == _write(np.ascontiguousarray(view, dtype=np.float32))
        assert np.array_equal(_read(_write(view)), view)


def test_row_vector_layout_matches_the_documented_bytes():
    n = 3
    data = _write(np.array([1.0, 2.0, -0.5], dtype=np.float32).reshape(1, n), legacy_vector_strides=True)
    assert len(data) == 129 + 4 * n
    assert data[:18] == b"\x00\x10MIXED_DATA_TYPES"
    assert struct.unpack(">q", data[18:26]) == (8,)
    assert data[26:32] == b"\x00\x04LONG"
    assert struct.unpack(">8q", data[32:96]) == (2, 1, n, 1, 1, 8192, 1, ord("c"))
    assert data[96:114] == b"\x00\x10MIXED_DATA_TYPES"
    assert struct.unpack(">q", data[114:122]) == (n,)
    assert data[122:129] == b"\x00\x05FLOAT"
    assert struct.unpack(">3f", data[129:]) == (1.0, 2.0, -0.5)
    # M2.1's native shape info uses plain C strides for the same array (checked against real M2.1
    # in tests/check/test_dl4j_jvm.py); only the stride[0] slot differs.
    m21 = _write(np.array([[1.0, 2.0, -0.5]], dtype=np.float32))
    assert struct.unpack(">8q", m21[32:96]) == (2, 1, n, n, 1, 8192, 1, ord("c"))
    assert m21[:56] == data[:56] and m21[64:] == data[64:]


def test_double_and_half_headers():
    d = _write(np.zeros((1, 2), dtype=np.float64))
    h = _write(np.zeros((1, 2), dtype=np.float16))
    assert d.endswith(b"\x00\x06DOUBLE" + bytes(16)) and len(d) == 130 + 8 * 2
    assert h.endswith(b"\x00\x04HALF" + bytes(4)) and len(h) == 128 + 2 * 2
    assert struct.unpack(">q", d[72:80]) == (16384,) and struct.unpack(">q", h[72:80]) == (4096,)


def test_empty_array_sets_the_empty_bit():
    data = _write(np.zeros((2, 0), dtype=np.float32))
    assert struct.unpack(">8q", data[32:96]) == (2, 2, 0, 0, 0, 8192 | 8, 0, ord("c"))
    assert data.endswith(b"\x00\x05FLOAT")


def test_unsupported_dtype_is_an_export_error():
    with pytest.raises(ExportError, match="complex64"):
        _write(np.zeros(3, dtype=np.complex64))


def test_streaming_write_does_not_copy_a_25m_vector():
    arr = np.ones(25_000_000, dtype=np.float32)

    class Sink:
        size = 0

        def write(self, b):
            self.size += memoryview(b).nbytes

    sink = Sink()
    tracemalloc.start()
    try:
        write_array(sink, arr)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.size == array_bytes_size(arr.shape, arr.dtype) == 113 + 4 * arr.size  # rank 1: 6 shape slots
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB while writing a 95 MiB array"


# ----------------------------------------------------------------------------- real DL4J files

MIXED_ZIPS = [
    "regression_testing/100b4/CustomLayerExample_100b4_float.bin",
    "regression_testing/100b4/CustomLayerExample_100b4_double.bin",
    "regression_testing/100b4/CustomLayerExample_100b4_half.bin",
    "regression_testing/100b4/SyntheticCNN_100b4.bin",
    "regression_testing/100b4/GravesLSTMCharModelingExample_100b4.bin",
    "regression_testing/100b6/SyntheticCNN_100b6.bin",
    "regression_testing/100b6/SyntheticBidirectionalRNNGraph_100b6.bin",
    "regression_testing/100b6/CustomLayerExample_100b6_double.bin",
    "regression_testing/100b6/CustomLayerExample_100b6_half.bin",
    "dl4j-integration-tests/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip",
    "dl4j-integration-tests/CNN1dCharacterTestCase/Model_RANDOM_INIT_UNTRAINED.zip",
    "dl4j-integration-tests/RnnCharacterTestCase/Model_RANDOM_INIT_UNTRAINED.zip",
    "models/mnist/mnist-model.zip",
]


@pytest.mark.parametrize("rel", MIXED_ZIPS)
def test_rewrite_of_real_coefficients_is_byte_identical(ref, rel):
    original = _coefficients(ref / rel)
    params = _read(original)
    assert params.ndim == 2 and params.shape[0] == 1
    assert _write(params, legacy_vector_strides=True) == original


def test_rewrite_of_real_input_output_arrays_is_byte_identical(ref):
    names = [
        "regression_testing/100b6/SyntheticCNN_Input_100b6.bin",
        "regression_testing/100b6/SyntheticCNN_Output_100b6.bin",
        "regression_testing/100b6/SyntheticBidirectionalRNNGraph_Input_100b6.bin",
        "regression_testing/100b6/CustomLayerExample_Output_100b6_half.bin",
        "regression_testing/100b4/GravesLSTMCharModelingExample_Input_100b4.bin",
        "dl4j-integration-tests/CNN1dCharacterTestCase/gradients/0_W.bin",
        "dl4j-integration-tests/Cnn3dSynthetic/gradients/0_W.bin",
    ]
    for rel in names:
        original = (ref / rel).read_bytes()
        assert _write(_read(original)) == original, rel


def test_reads_old_javacpp_int_files(ref):
    params = _read(_coefficients(ref / "regression_testing/050/050_ModelSerializer_Regression_MLP_1.zip"))
    assert params.shape == (1, 41) and params.dtype == np.float32 and np.isfinite(params).all()
    data = (ref / "regression_testing/100a/CustomLayerExample_Input_100a.bin").read_bytes()
    assert data[2:9] == b"JAVACPP"
    inp = _read(data)
    assert inp.shape == (3, 5) and inp.dtype == np.float64
    # 'f'-ordered softmax output: rows only sum to 1 when the stored order is honoured
    out_data = (ref / "regression_testing/100a/CustomLayerExample_Output_100a.bin").read_bytes()
    out = _read(out_data)
    assert out.shape == (3, 8)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)
    raw = np.frombuffer(out_data[-8 * 24 :], dtype=">f8")
    assert not np.allclose(raw.reshape(3, 8).sum(axis=1), 1.0)
    assert np.array_equal(out, raw.reshape(3, 8, order="F"))


def test_reads_long_shape_beta3_files(ref):
    data = _coefficients(ref / "regression_testing/100b3/CustomLayerExample_100b3_double.bin")
    assert data[2:12] == b"LONG_SHAPE"
    params = _read(data)
    assert params.shape == (1, 149) and params.dtype == np.float64


def test_half_precision_files(ref):
    params = _read(_coefficients(ref / "regression_testing/100b6/CustomLayerExample_100b6_half.bin"))
    single = _read(_coefficients(ref / "regression_testing/100b6/CustomLayerExample_100b6_float.bin"))
    assert params.dtype == np.float16 and params.shape == single.shape == (1, 149)


def test_non_standard_strides_file(ref):
    path = ref / "regression_testing/100b4/GravesLSTMCharModelingExample_Output_100b4.bin"
    data = path.read_bytes()
    assert struct.unpack(">10q", data[32:112])[4:7] == (1, 30, 3)  # strides [1, 30, 3], order 'c'
    out = _read(data)
    assert out.shape == (3, 77, 10) and out.flags.c_contiguous
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)  # softmax over the 77 classes
    naive = np.frombuffer(data[-4 * out.size :], dtype=">f4").reshape(3, 77, 10)
    assert not np.allclose(naive.sum(axis=1), 1.0, atol=1e-3)


def test_reading_leaves_the_stream_after_the_array(ref):
    blob = (ref / "regression_testing/100b6/SyntheticCNN_Input_100b6.bin").read_bytes()
    stream = io.BytesIO(blob + blob)
    a, b = read_array(stream), read_array(stream)
    assert np.array_equal(a, b) and stream.read() == b""


# ----------------------------------------------------------------------------- bad input


def test_truncated_array_names_the_source():
    data = _write(np.arange(10, dtype=np.float32))
    for cut in (1, 20, 40, len(data) - 1):
        with pytest.raises(DL4JFileError, match="truncated") as err:
            read_array(io.BytesIO(data[:cut]), source="params.bin")
        assert "params.bin" in str(err.value)


def test_foreign_bytes_are_rejected(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros(3))
    with open(path, "rb") as f, pytest.raises(DL4JFileError) as err:
        read_array(f)
    assert str(path) in str(err.value)


def test_strides_reaching_past_the_data_are_rejected():
    data = bytearray(_write(np.arange(6, dtype=np.float32).reshape(2, 3)))
    data[32 + 3 * 8 : 32 + 4 * 8] = struct.pack(">q", 30)  # stride[0] = 30 > 6 elements
    with pytest.raises(DL4JFileError, match="strides"):
        _read(bytes(data))


def test_row_vector_from_pieces_equals_the_concatenated_array():
    from workbench.export.nd4j_binary import write_row_vector

    rng = np.random.default_rng(1)
    pieces = [rng.standard_normal(n).astype(np.float32) for n in (3, 0, 300_001, 7)]
    buf = io.BytesIO()
    n = write_row_vector(buf, pieces)
    whole = np.concatenate(pieces).reshape(1, -1)
    assert n == len(buf.getvalue())
    assert buf.getvalue() == _write(whole, legacy_vector_strides=True)
    assert np.array_equal(_read(buf.getvalue()), whole)
