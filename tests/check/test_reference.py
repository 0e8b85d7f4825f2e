"""The NumPy reference executor reproduces DL4J: real DL4J-written zips + hand-built configs vs Keras/NumPy."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.check.reference import ACTIVATIONS, LAYER_OPS, param_views, run_reference
from workbench.errors import DL4JFileError, WorkbenchError
from workbench.export.model_zip import read_model_zip
from workbench.export.nd4j_binary import read_array

L = "org.deeplearning4j.nn.conf.layers."
G = "org.deeplearning4j.nn.conf.graph."
P = "org.deeplearning4j.nn.conf.preprocessor."
RNG = np.random.default_rng(1234)


def act(name: str, **props) -> dict:
    return {"@class": f"org.nd4j.linalg.activations.impl.Activation{name}", **props}


def layer(cls: str, **props) -> dict:
    return {"@class": cls if "." in cls else L + cls, **props}


def mln(*layers, pre=None, variables=None) -> dict:
    variables = variables or {}
    return {"confs": [{"layer": lay, "variables": variables.get(i, [])} for i, lay in enumerate(layers)],
            "inputPreProcessors": pre or {}}


def flat(*pairs) -> np.ndarray:
    """Flat float32 vector from (array, 'f'|'c') segments, as DL4J lays them out."""
    if not pairs:
        return np.zeros(0, np.float32)
    return np.concatenate([np.asarray(a, np.float64).ravel(order=o.upper()) for a, o in pairs]).astype(np.float32)


def rand(*shape, scale=0.5) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def last(acts: dict) -> np.ndarray:
    return list(acts.values())[-1]


def dense(nin, nout, activation="Identity", cls="DenseLayer", **kw) -> dict:
    return layer(cls, nin=nin, nout=nout, activationFn=act(activation), hasBias=True, **kw)


@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("tensorflow", reason="TensorFlow/Keras computes the independent reference")
    import keras as k

    return k


def keras_run(layer, x, weights):
    """Build a Keras layer on x, set its weights, return its output as float64."""
    layer(x)
    layer.set_weights([np.asarray(w, np.float32) for w in weights])
    return np.asarray(layer(x), np.float64)


# ----------------------------------------------------------------------- real DL4J-written files


REFERENCE_CASES = [
    ("100b6", "SyntheticCNN"),
    ("100b6", "SyntheticBidirectionalRNNGraph"),
    ("100b4", "GravesLSTMCharModelingExample"),
    ("100b4", "SyntheticCNN"),
    ("100b4", "SyntheticBidirectionalRNNGraph"),
]


def _read(path):
    with open(path, "rb") as f:
        return read_array(f)


@pytest.mark.parametrize("version,name", REFERENCE_CASES)
def test_reproduces_dl4j_regression_outputs(shared, version, name):
    folder = shared / "dl4j-reference" / "regression_testing" / version
    model = read_model_zip(folder / f"{name}_{version}.bin")
    x = _read(folder / f"{name}_Input_{version}.bin")
    expected = _read(folder / f"{name}_Output_{version}.bin")
    acts = run_reference(model, [x])
    out = last(acts)
    assert out.shape == expected.shape
    assert out.dtype == np.float32
    assert np.abs(out.astype(np.float64) - expected).max() < 1e-5


def test_legacy_json_upsampling_net(shared):
    """1.0.0-alpha wrapper-object JSON (layer {"convolution": {...}}, activation {"TanH": {}}) runs too."""
    folder = shared / "dl4j-reference" / "regression_testing" / "100a" / "upsampling"
    acts = run_reference(read_model_zip(folder / "net.bin"), [_read(folder / "in.bin")])
    assert list(acts) == ["input", "layer0", "layer1", "layer2", "layer3"]
    assert np.abs(last(acts) - _read(folder / "out.bin")).max() < 1e-5


def test_activation_keys_and_layouts(shared):
    folder = shared / "dl4j-reference" / "regression_testing" / "100b6"
    model = read_model_zip(folder / "SyntheticCNN_100b6.bin")
    acts = run_reference(model, _read(folder / "SyntheticCNN_Input_100b6.bin"))
    assert list(acts) == ["input"] + [f"layer{i}" for i in range(10)]
    assert acts["layer0"].shape == (4, 4, 13, 26)  # NCHW, 3x3 stride [2,1] on 28x28
    graph = read_model_zip(folder / "SyntheticBidirectionalRNNGraph_100b6.bin")
    acts = run_reference(graph, {"input": _read(folder / "SyntheticBidirectionalRNNGraph_Input_100b6.bin")})
    assert list(acts) == ["input", "rnn1", "rnn2", "concat", "pooling", "out"]
    assert acts["rnn1"].shape == (4, 32, 10) and acts["concat"].shape == (4, 64, 10)  # NCW, CONCAT on features


def test_param_views_on_synthetic_cnn(shared):
    model = read_model_zip(shared / "dl4j-reference" / "regression_testing" / "100b6" / "SyntheticCNN_100b6.bin")
    views = param_views(model.configuration, model.params)
    shapes = {name: {k: v.shape for k, v in p.items()} for name, p in views.items() if p}
    assert shapes == {
        "layer0": {"b": (4,), "W": (4, 1, 3, 3)},
        "layer1": {"b": (8,), "W": (1, 4, 3, 3), "pW": (8, 4, 1, 1)},
        "layer5": {"b": (16,), "W": (3, 3, 8, 2)},
        "layer8": {"b": (4,), "W": (4, 16, 4, 4)},
    }
    assert list(views["layer0"]) == ["b", "W"]  # conv family: bias first in the flat vector
    rebuilt = np.concatenate([v.ravel(order="C") for p in views.values() for v in p.values()])
    assert np.array_equal(rebuilt, model.params)
    assert not views["layer0"]["W"].flags.writeable


def test_param_views_on_rnn_graph_use_f_order(shared):
    folder = shared / "dl4j-reference" / "regression_testing" / "100b6"
    model = read_model_zip(folder / "SyntheticBidirectionalRNNGraph_100b6.bin")
    views = param_views(model.configuration, model.params)
    assert list(views) == ["rnn1", "rnn2", "concat", "pooling", "out"]
    assert {k: v.shape for k, v in views["rnn1"].items()} == {
        "fW": (10, 64), "fRW": (16, 64), "fb": (64,), "bW": (10, 64), "bRW": (16, 64), "bb": (64,)}
    assert views["out"]["W"].shape == (64, 3)
    rebuilt = np.concatenate([v.ravel(order="F") for p in views.values() for v in p.values()])
    assert np.array_equal(rebuilt, model.params)
    assert views["rnn1"]["fW"].flags.f_contiguous


def test_wrong_parameter_count_is_reported():
    conf = mln(dense(3, 2))
    with pytest.raises(DL4JFileError, match="parameter count"):
        run_reference(conf, [np.zeros((1, 3), np.float32)], params=np.zeros(7, np.float32))


# ----------------------------------------------------------------------------- unknown classes


def test_unknown_layer_class_names_layer_and_class():
    conf = mln(dense(3, 2, layerName="d"), {"@class": "com.example.MyLayer", "layerName": "mine"})
    with pytest.raises(WorkbenchError) as err:
        run_reference(conf, [np.zeros((1, 3), np.float32)], params=np.zeros(8, np.float32))
    assert err.value.layer == "mine" and "com.example.MyLayer" in str(err.value)


def test_unknown_activation_and_vertex_are_refused():
    conf = mln(layer("ActivationLayer", layerName="a", activationFn={"@class": "com.example.MyAct"}))
    with pytest.raises(WorkbenchError, match="com.example.MyAct"):
        run_reference(conf, [np.zeros((1, 3), np.float32)], params=np.zeros(0, np.float32))
    graph = {"networkInputs": ["in"], "networkOutputs": ["v"], "vertices": {"v": {"@class": "com.example.V"}},
             "vertexInputs": {"v": ["in"]}}
    with pytest.raises(WorkbenchError) as err:
        run_reference(graph, [np.zeros((1, 3), np.float32)], params=np.zeros(0, np.float32))
    assert err.value.layer == "v" and "com.example.V" in str(err.value)


# -------------------------------------------------------------------------------- activations


def test_activation_functions_follow_libnd4j():
    x = np.linspace(-4, 4, 17)
    sig = 1 / (1 + np.exp(-x))
    cases = [
        (act("HardSigmoid"), np.clip(0.2 * x + 0.5, 0, 1)),
        (act("GELU", precise=False), x * (1 / (1 + np.exp(-1.702 * x)))),
        (act("GELU", precise=True), x / 2 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + (0.044715 * x) ** 3)))),
        (act("ReLU", max=2.0, threshold=1.0, negativeSlope=0.1), np.minimum(np.where(x >= 1, x, 0.1 * (x - 1)), 2.0)),
        (act("ReLU", max=None, negativeSlope=None, threshold=None), np.maximum(x, 0)),
        (act("LReLU", alpha=0.2), np.where(x < 0, 0.2 * x, x)),
        (act("ELU", alpha=0.5), np.where(x >= 0, x, 0.5 * (np.exp(x) - 1))),
        (act("Swish"), x * sig),
        (act("Mish"), x * np.tanh(np.log1p(np.exp(x)))),
        (act("ThresholdedReLU", theta=1.5), np.where(x > 1.5, x, 0)),
        (act("ReLU6"), np.clip(x, 0, 6)),
        (act("RReLU", l=0.1, u=0.3), np.maximum(x, 0.2)),
        (act("RectifiedTanh"), np.maximum(0, np.tanh(x))),
        (act("SoftSign"), x / (1 + np.abs(x))),
        (act("Cube"), x ** 3),
        (act("SELU"), 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * (np.exp(x) - 1))),
        (act("HardTanH"), np.clip(x, -1, 1)),
        ({"Sigmoid": {}}, sig),  # legacy wrapper form
    ]
    for spec, expected in cases:
        conf = mln(layer("ActivationLayer", activationFn=spec))
        got = last(run_reference(conf, [x[None]], params=flat()))[0]
        assert np.allclose(got, expected, atol=1e-6), spec


def test_every_section_5_2_activation_is_registered():
    for name in ["Identity", "ReLU", "LReLU", "ELU", "SELU", "Sigmoid", "HardSigmoid", "TanH", "HardTanH", "Softmax",
                 "SoftPlus", "SoftSign", "Swish", "GELU", "Mish", "ReLU6", "ThresholdedReLU", "Cube",
                 "RationalTanh", "RectifiedTanh"]:
        assert "Activation" + name in ACTIVATIONS


def test_softmax_axis_depends_on_the_layer():
    """ActivationLayer softmaxes the LAST axis (time, for NCW); RnnLossLayer reshapes to 2-D first (features)."""
    x = rand(2, 3, 4)
    e = np.exp(x.astype(np.float64))
    over_time = last(run_reference(mln(layer("ActivationLayer", activationFn=act("Softmax"))), [x],
                                   params=flat()))
    assert np.allclose(over_time, e / e.sum(axis=2, keepdims=True), atol=1e-6)
    over_features = last(run_reference(mln(layer("RnnLossLayer", activationFn=act("Softmax"))), [x], params=flat()))
    assert np.allclose(over_features, e / e.sum(axis=1, keepdims=True), atol=1e-6)
    x4 = rand(2, 3, 4, 5)
    e4 = np.exp(x4.astype(np.float64))
    cnn_loss = last(run_reference(mln(layer("CnnLossLayer", activationFn=act("Softmax"), format="NCHW")), [x4],
                                  params=flat()))
    assert np.allclose(cnn_loss, e4 / e4.sum(axis=1, keepdims=True), atol=1e-6)


# ------------------------------------------------------------------------------ dense / output


def test_dense_output_with_f_order_weights_and_layer_norm():
    x = rand(5, 4)
    W1, b1, g1 = rand(4, 3), rand(3), rand(3)
    W2, b2 = rand(3, 2), rand(2)
    conf = mln(dense(4, 3, "TanH", hasLayerNorm=True, layerName="d"),
               dense(3, 2, "Softmax", cls="OutputLayer", lossFn={"@class": "x.LossMCXENT"}))
    acts = run_reference(conf, [x], params=flat((W1, "f"), (b1, "f"), (g1, "f"), (W2, "f"), (b2, "f")))
    z = x.astype(np.float64) @ W1
    z = (z - z.mean(1, keepdims=True)) / z.std(1, keepdims=True) * g1 + b1
    h = np.tanh(z)
    o = np.exp(h @ W2 + b2)
    assert list(acts) == ["input", "d", "1"]
    assert np.allclose(acts["d"], h, atol=1e-6)
    assert np.allclose(acts["1"], o / o.sum(1, keepdims=True), atol=1e-6)


# -------------------------------------------------------------------------------- convolution


def conv(nin, nout, k, mode="Truncate", fmt="NCHW", stride=(1, 1), dilation=(1, 1), padding=(0, 0),
         act_name="Identity"):
    return layer("ConvolutionLayer", nin=nin, nout=nout, kernelSize=list(k), stride=list(stride),
                 dilation=list(dilation), padding=list(padding), convolutionMode=mode, cnn2dDataFormat=fmt,
                 hasBias=True, activationFn=act(act_name))


@pytest.mark.tensorflow
@pytest.mark.parametrize("k,stride,dilation,mode,keras_padding", [
    ((4, 4), (2, 2), (1, 1), "Same", "same"),
    ((3, 2), (1, 1), (2, 2), "Same", "same"),
    ((3, 3), (2, 1), (1, 1), "Truncate", "valid"),
])
def test_conv2d_matches_keras_in_nchw_and_nhwc(keras, k, stride, dilation, mode, keras_padding):
    x = rand(2, 9, 10, 3)  # NHWC
    kernel, bias = rand(*k, 3, 5), rand(5)
    ref = keras_run(keras.layers.Conv2D(5, k, strides=stride, dilation_rate=dilation, padding=keras_padding), x,
                    [kernel, bias])
    params = flat((bias, "c"), (kernel.transpose(3, 2, 0, 1), "c"))
    nhwc = last(run_reference(mln(conv(3, 5, k, mode, "NHWC", stride, dilation)), [x], params=params))
    nchw = last(run_reference(mln(conv(3, 5, k, mode, "NCHW", stride, dilation)), [x.transpose(0, 3, 1, 2)],
                              params=params))
    assert np.abs(nhwc - ref).max() < 1e-5
    assert np.array_equal(nchw.transpose(0, 2, 3, 1), nhwc)


def test_conv2d_explicit_padding_equals_zero_padding_then_valid():
    x = rand(1, 2, 6, 7)
    W, b = rand(3, 2, 3, 3), rand(3)
    params = flat((b, "c"), (W, "c"))
    padded = last(run_reference(mln(conv(2, 3, (3, 3), padding=(1, 2))), [x], params=params))
    zp = mln(layer("ZeroPaddingLayer", padding=[1, 1, 2, 2]), conv(2, 3, (3, 3)))
    assert np.allclose(padded, last(run_reference(zp, [x], params=params)), atol=1e-6)
    assert padded.shape == (1, 3, 6, 9)


@pytest.mark.tensorflow
@pytest.mark.parametrize("mode,keras_padding", [("Same", "same"), ("Causal", "causal"), ("Truncate", "valid")])
def test_conv1d_uses_raw_keras_kernel_layout(keras, mode, keras_padding):
    x = rand(2, 11, 3)  # NWC
    kernel, bias = rand(4, 3, 5), rand(5)
    ref = keras_run(keras.layers.Conv1D(5, 4, dilation_rate=2, padding=keras_padding), x, [kernel, bias])
    params = flat((bias, "c"), (kernel, "c"))  # M1+: the [k, nIn, nOut] kernel, not transposed

    def c1d(fmt):
        return layer("Convolution1DLayer", nin=3, nout=5, kernelSize=[4], stride=[1], dilation=[2], padding=[0],
                     convolutionMode=mode, rnnDataFormat=fmt, hasBias=True, activationFn=act("Identity"))

    nwc = last(run_reference(mln(c1d("NWC")), [x], params=params))
    ncw = last(run_reference(mln(c1d("NCW")), [x.transpose(0, 2, 1)], params=params))
    assert np.abs(nwc - ref).max() < 1e-5
    assert np.allclose(ncw.transpose(0, 2, 1), nwc, atol=1e-7)
    views = param_views(mln(c1d("NCW")), params)
    assert views["0"]["W"].shape == (5, 3, 4, 1)


@pytest.mark.tensorflow
def test_depthwise_and_separable_match_keras(keras):
    x = rand(2, 8, 7, 3)
    dw, db = rand(3, 3, 3, 2), rand(6)
    ref = keras_run(keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", strides=2), x, [dw, db])
    d_conf = layer("DepthwiseConvolution2D", nin=3, nout=6, depthMultiplier=2, kernelSize=[3, 3], stride=[2, 2],
                   padding=[0, 0], convolutionMode="Same", cnn2dDataFormat="NHWC", activationFn=act("Identity"))
    got = last(run_reference(mln(d_conf), [x], params=flat((db, "c"), (dw, "c"))))
    assert np.abs(got - ref).max() < 1e-5

    pw, pb = rand(1, 1, 6, 4), rand(4)
    ref = keras_run(keras.layers.SeparableConv2D(4, 3, depth_multiplier=2, padding="valid"), x, [dw, pw, pb])
    s_conf = layer("SeparableConvolution2D", nin=3, nout=4, depthMultiplier=2, kernelSize=[3, 3], stride=[1, 1],
                   padding=[0, 0], convolutionMode="Truncate", cnn2dDataFormat="NCHW", activationFn=act("Identity"))
    params = flat((pb, "c"), (dw.transpose(3, 2, 0, 1), "c"), (pw.transpose(3, 2, 0, 1), "c"))
    got = last(run_reference(mln(s_conf), [x.transpose(0, 3, 1, 2)], params=params))
    assert np.abs(got.transpose(0, 2, 3, 1) - ref).max() < 1e-5


@pytest.mark.tensorflow
@pytest.mark.parametrize("mode,keras_padding", [("Same", "same"), ("Truncate", "valid")])
def test_deconvolution2d_matches_conv2d_transpose(keras, mode, keras_padding):
    x = rand(2, 5, 4, 3)
    kernel, bias = rand(3, 3, 6, 3), rand(6)  # Keras [kH, kW, out, in]
    ref = keras_run(keras.layers.Conv2DTranspose(6, 3, strides=2, padding=keras_padding), x, [kernel, bias])
    conf = layer("Deconvolution2D", nin=3, nout=6, kernelSize=[3, 3], stride=[2, 2], padding=[0, 0],
                 convolutionMode=mode, cnn2dDataFormat="NHWC", activationFn=act("Identity"))
    got = last(run_reference(mln(conf), [x], params=flat((bias, "c"), (kernel.transpose(3, 2, 0, 1), "c"))))
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() < 1e-5


@pytest.mark.tensorflow
def test_conv3d_matches_keras(keras):
    x = rand(1, 5, 6, 4, 2)  # NDHWC
    kernel, bias = rand(2, 3, 2, 2, 3), rand(3)
    ref = keras_run(keras.layers.Conv3D(3, (2, 3, 2), padding="same"), x, [kernel, bias])
    conf = layer("Convolution3D", nin=2, nout=3, kernelSize=[2, 3, 2], stride=[1, 1, 1], padding=[0, 0, 0],
                 dilation=[1, 1, 1], convolutionMode="Same", dataFormat="NCDHW", activationFn=act("Identity"))
    got = last(run_reference(mln(conf), [x.transpose(0, 4, 1, 2, 3)],
                             params=flat((bias, "c"), (kernel.transpose(4, 3, 0, 1, 2), "c"))))
    assert np.abs(got.transpose(0, 2, 3, 4, 1) - ref).max() < 1e-5


# ---------------------------------------------------------------------------------- pooling


@pytest.mark.tensorflow
@pytest.mark.parametrize("kind,keras_cls", [("MAX", "MaxPooling2D"), ("AVG", "AveragePooling2D")])
def test_same_mode_pooling_matches_keras(keras, kind, keras_cls):
    x = rand(2, 7, 8, 3)
    ref = np.asarray(getattr(keras.layers, keras_cls)(3, strides=2, padding="same")(x))
    conf = layer("SubsamplingLayer", poolingType=kind, kernelSize=[3, 3], stride=[2, 2], padding=[0, 0],
                 convolutionMode="Same", cnn2dDataFormat="NHWC", avgPoolIncludePadInDivisor=False)
    got = last(run_reference(mln(conf), [x], params=flat()))
    assert np.abs(got - ref).max() < 1e-6


def test_avg_pool_divisor_rule():
    x = np.ones((1, 1, 3, 3), np.float32)
    base = dict(poolingType="AVG", kernelSize=[3, 3], stride=[1, 1], padding=[1, 1], convolutionMode="Truncate")
    excl = last(run_reference(mln(layer("SubsamplingLayer", avgPoolIncludePadInDivisor=False, **base)), [x],
                              params=flat()))
    incl = last(run_reference(mln(layer("SubsamplingLayer", avgPoolIncludePadInDivisor=True, **base)), [x],
                              params=flat()))
    assert np.allclose(excl, 1.0)
    assert np.isclose(incl[0, 0, 0, 0], 4 / 9) and np.isclose(incl[0, 0, 1, 1], 1.0)


def test_global_pooling_and_pnorm():
    x = rand(2, 3, 4, 5)
    gp = layer("GlobalPoolingLayer", poolingType="PNORM", pnorm=3, collapseDimensions=True)
    got = last(run_reference(mln(gp), [x], params=flat()))
    assert np.allclose(got, (np.abs(x.astype(np.float64)) ** 3).sum(axis=(2, 3)) ** (1 / 3), atol=1e-6)
    keep = layer("GlobalPoolingLayer", poolingType="AVG", collapseDimensions=False)
    assert last(run_reference(mln(keep), [x], params=flat())).shape == (2, 3, 1, 1)


# ---------------------------------------------------------------------------- normalization


@pytest.mark.parametrize("shape,fmt", [((4, 3), "NCHW"), ((2, 3, 4, 5), "NCHW"), ((2, 4, 5, 3), "NHWC")])
def test_batch_normalization_variance_vs_log10_std(shape, fmt):
    x = rand(*shape)
    gamma, beta, mean = rand(3), rand(3), rand(3)
    var = (RNG.random(3) + 0.5).astype(np.float32)
    bn = layer("BatchNormalization", nin=3, nout=3, eps=1e-3, cnn2DFormat=fmt, activationFn=act("ReLU"))
    ch = 3 if fmt == "NHWC" and len(shape) == 4 else 1
    bshape = [1] * len(shape)
    bshape[ch] = 3
    r = lambda a: a.astype(np.float64).reshape(bshape)  # noqa: E731
    expected = (x - r(mean)) / np.sqrt(r(var) + 1e-3) * r(gamma) + r(beta)  # no activation: DL4J ignores it
    with_var = run_reference(mln(bn, variables={0: ["gamma", "beta", "mean", "var"]}), [x],
                             params=flat((gamma, "f"), (beta, "f"), (mean, "f"), (var, "f")))
    assert np.allclose(last(with_var), expected, atol=1e-5)
    log10std = np.log10(np.sqrt(var.astype(np.float64)))
    without = run_reference(mln(bn, variables={0: ["gamma", "beta", "mean", "log10stdev"]}), [x],
                            params=flat((gamma, "f"), (beta, "f"), (mean, "f"), (log10std, "f")))
    assert np.allclose(last(without), expected, atol=1e-5)
    views = param_views(mln(bn), flat((gamma, "f"), (beta, "f"), (mean, "f"), (log10std, "f")))
    assert list(views["0"]) == ["gamma", "beta", "mean", "log10stdev"]  # no "var" in variables -> log10 std


@pytest.mark.tensorflow
def test_batch_normalization_matches_keras(keras):
    x = rand(3, 4, 5, 6)
    gamma, beta, mean = rand(6), rand(6), rand(6)
    var = (RNG.random(6) + 0.5).astype(np.float32)
    ref = keras_run(keras.layers.BatchNormalization(epsilon=1e-3), x, [gamma, beta, mean, var])
    bn = layer("BatchNormalization", nin=6, nout=6, eps=1e-3, cnn2DFormat="NHWC", activationFn=act("Identity"))
    got = last(run_reference(mln(bn, variables={0: ["gamma", "beta", "mean", "var"]}), [x],
                             params=flat((gamma, "f"), (beta, "f"), (mean, "f"), (var, "f"))))
    assert np.abs(got - ref).max() < 1e-5


# -------------------------------------------------------------------------------- recurrent


def lstm_conf(nin, n, fmt="NCW", activation="TanH", gate="Sigmoid", cls="LSTM"):
    return layer(cls, nin=nin, nout=n, rnnDataFormat=fmt, activationFn=act(activation), gateActivationFn=act(gate))


def keras_lstm_to_dl4j(kernel, recurrent, bias):
    """Keras gate blocks [i, f, c, o] -> DL4J [c, f, o, i] (KerasLSTM.setWeights)."""
    n = recurrent.shape[0]
    i, f, c, o = (slice(k * n, (k + 1) * n) for k in range(4))

    def re(a):
        return np.concatenate([a[..., c], a[..., f], a[..., o], a[..., i]], axis=-1)

    return re(kernel), re(recurrent), re(bias)


@pytest.mark.tensorflow
@pytest.mark.parametrize("fmt", ["NWC", "NCW"])
def test_lstm_gate_order_matches_keras(keras, fmt):
    x = rand(3, 7, 4)  # [b, T, f]
    kernel, recurrent, bias = rand(4, 20), rand(5, 20), rand(20)
    ref = keras_run(keras.layers.LSTM(5, return_sequences=True), x, [kernel, recurrent, bias])
    W, RW, b = keras_lstm_to_dl4j(kernel, recurrent, bias)
    xin = x if fmt == "NWC" else x.transpose(0, 2, 1)
    got = last(run_reference(mln(lstm_conf(4, 5, fmt)), [xin], params=flat((W, "f"), (RW, "f"), (b, "f"))))
    got = got if fmt == "NWC" else got.transpose(0, 2, 1)
    assert np.abs(got - ref).max() < 1e-5
    wrong = last(run_reference(mln(lstm_conf(4, 5, "NWC")), [x], params=flat((kernel, "f"), (recurrent, "f"),
                                                                             (bias, "f"))))
    assert np.abs(wrong - ref).max() > 1e-3  # Keras order used as-is is detectably wrong


@pytest.mark.tensorflow
@pytest.mark.parametrize("mode,merge", [("CONCAT", "concat"), ("ADD", "sum"), ("MUL", "mul"), ("AVERAGE", "ave")])
def test_bidirectional_lstm_matches_keras(keras, mode, merge):
    x = rand(2, 6, 4)
    fw = [rand(4, 12), rand(3, 12), rand(12)]
    bw = [rand(4, 12), rand(3, 12), rand(12)]
    ref = keras_run(keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True), merge_mode=merge), x,
                    fw + bw)
    inner = lstm_conf(4, 3, "NWC")
    conf = layer(L + "recurrent.Bidirectional", fwd=inner, bwd=inner, mode=mode, layerName="bi")
    pf, pb = keras_lstm_to_dl4j(*fw), keras_lstm_to_dl4j(*bw)
    params = flat(*[(a, "f") for a in pf], *[(a, "f") for a in pb])
    got = run_reference(mln(conf), [x], params=params)["bi"]
    assert np.abs(got - ref).max() < 1e-5
    assert list(param_views(mln(conf), params)["bi"]) == ["fW", "fRW", "fb", "bW", "bRW", "bb"]


@pytest.mark.tensorflow
def test_simple_rnn_and_last_time_step_match_keras(keras):
    x = rand(3, 5, 4)
    kernel, recurrent, bias = rand(4, 6), rand(6, 6), rand(6)
    ref = keras_run(keras.layers.SimpleRNN(6, return_sequences=False), x, [kernel, recurrent, bias])
    rnn = layer(L + "recurrent.SimpleRnn", nin=4, nout=6, rnnDataFormat="NCW", activationFn=act("TanH"))
    conf = mln(layer(L + "recurrent.LastTimeStep", underlying=rnn, layerName="last"))
    got = run_reference(conf, [x.transpose(0, 2, 1)], params=flat((kernel, "f"), (recurrent, "f"), (bias, "f")))
    assert np.abs(got["last"] - ref).max() < 1e-5


@pytest.mark.tensorflow
def test_mask_zero_lstm_last_step_matches_keras_masking(keras):
    x = rand(2, 6, 3)
    x[0, 4:] = 0.0  # example 0 padded after 4 steps
    kernel, recurrent, bias = rand(3, 8), rand(2, 8), rand(8)
    inp = keras.Input((6, 3))
    masked = keras.layers.Masking(0.0)(inp)
    lstm = keras.layers.LSTM(2)
    model = keras.Model(inp, lstm(masked))
    lstm.set_weights([kernel, recurrent, bias])
    ref = np.asarray(model(x))
    W, RW, b = keras_lstm_to_dl4j(kernel, recurrent, bias)
    mz = layer(L + "util.MaskZeroLayer", underlying=lstm_conf(3, 2, "NWC"), maskingValue=0.0)
    conf = mln(layer(L + "recurrent.LastTimeStep", underlying=mz))
    got = last(run_reference(conf, [x], params=flat((W, "f"), (RW, "f"), (b, "f"))))
    assert np.abs(got - ref).max() < 1e-5


def test_graves_lstm_without_peepholes_equals_lstm():
    x = rand(2, 3, 5)
    W, RW, b = rand(3, 16), rand(4, 16), rand(16)
    lstm_out = last(run_reference(mln(lstm_conf(3, 4)), [x], params=flat((W, "f"), (RW, "f"), (b, "f"))))
    RWp = np.concatenate([RW, np.zeros((4, 3), np.float32)], axis=1)
    graves_conf = mln(lstm_conf(3, 4, cls="GravesLSTM"))
    graves = last(run_reference(graves_conf, [x], params=flat((W, "f"), (RWp, "f"), (b, "f"))))
    assert np.allclose(graves, lstm_out, atol=1e-7)
    RWp[:, 16:] = 0.5
    peep = last(run_reference(graves_conf, [x], params=flat((W, "f"), (RWp, "f"), (b, "f"))))
    assert np.abs(peep - lstm_out).max() > 1e-3


def test_rnn_feedforward_preprocessors_round_trip():
    """LSTM -> Dense (RnnToFeedForward) -> RnnOutputLayer (FeedForwardToRnn): per-time-step dense."""
    x = rand(3, 2, 4)  # NCW
    W, RW, b = rand(2, 12), rand(3, 12), rand(12)
    Wd, bd, Wo, bo = rand(3, 5), rand(5), rand(5, 2), rand(2)
    conf = mln(lstm_conf(2, 3), dense(3, 5, "TanH"), dense(5, 2, "Softmax", cls="RnnOutputLayer", rnnDataFormat="NCW"),
               pre={"1": {"@class": P + "RnnToFeedForwardPreProcessor", "rnnDataFormat": "NCW"},
                    "2": {"@class": P + "FeedForwardToRnnPreProcessor", "rnnDataFormat": "NCW"}})
    acts = run_reference(conf, [x], params=flat((W, "f"), (RW, "f"), (b, "f"), (Wd, "f"), (bd, "f"), (Wo, "f"),
                                                (bo, "f")))
    h = acts["0"].astype(np.float64)  # [b, 3, T]
    assert acts["1"].shape == (12, 5)
    assert np.allclose(acts["1"][1 + 3 * 2], np.tanh(h[1, :, 2] @ Wd + bd), atol=1e-6)  # row b + B*t
    z = np.exp(np.einsum("bft,fo->bot", np.tanh(np.einsum("bft,fo->bot", h, Wd) + bd[None, :, None]), Wo)
               + bo[None, :, None])
    assert np.allclose(acts["2"], z / z.sum(axis=1, keepdims=True), atol=1e-6)


@pytest.mark.tensorflow
def test_cnn_to_feedforward_nhwc_flatten_matches_keras_flatten(keras):
    x = rand(2, 5, 4, 3)
    kernel, bias, Wd, bd = rand(2, 2, 3, 4), rand(4), rand(4 * 3 * 4, 6), rand(6)
    inp = keras.Input((5, 4, 3))
    c = keras.layers.Conv2D(4, 2)
    d = keras.layers.Dense(6)
    model = keras.Model(inp, d(keras.layers.Flatten()(c(inp))))
    c.set_weights([kernel, bias])
    d.set_weights([Wd, bd])
    ref = np.asarray(model(x))
    conf = mln(conv(3, 4, (2, 2), fmt="NHWC"), dense(48, 6),
               pre={"1": {"@class": P + "CnnToFeedForwardPreProcessor", "inputHeight": 4, "inputWidth": 3,
                          "numChannels": 4, "format": "NHWC"}})
    got = last(run_reference(conf, [x], params=flat((bias, "c"), (kernel.transpose(3, 2, 0, 1), "c"), (Wd, "f"),
                                                    (bd, "f"))))
    assert np.abs(got - ref).max() < 1e-5


# -------------------------------------------------------------------------------- embeddings


def test_embedding_sequence_output_format():
    ids = np.array([[1, 0, 3], [2, 2, 1]], np.float32)
    W = rand(4, 5)
    base = dict(nin=4, nout=5, activationFn=act("Identity"), hasBias=False, inputLength=3)
    ncw = last(run_reference(mln(layer("EmbeddingSequenceLayer", **base)), [ids], params=flat((W, "f"))))
    nwc = last(run_reference(mln(layer("EmbeddingSequenceLayer", outputFormat="NWC", **base)), [ids],
                             params=flat((W, "f"))))
    assert ncw.shape == (2, 5, 3) and nwc.shape == (2, 3, 5)  # NCW unless outputFormat says NWC
    assert np.allclose(nwc, W[ids.astype(int)], atol=0)
    single = last(run_reference(mln(layer("EmbeddingLayer", nin=4, nout=5, activationFn=act("Identity"),
                                          hasBias=True)), [ids[:, :1]], params=flat((W, "f"), (np.ones(5), "f"))))
    assert np.allclose(single, W[[1, 2]] + 1, atol=1e-6)
    with pytest.raises(WorkbenchError, match="invalid index"):
        run_reference(mln(layer("EmbeddingSequenceLayer", **base)), [ids + 2], params=flat((W, "f")))


# ----------------------------------------------------------------------------- graph vertices


def lv(layer_conf, variables=None, pre=None):
    return {"@class": G + "LayerVertex", "layerConf": {"layer": layer_conf, "variables": variables or []},
            "preProcessor": pre, "outputVertex": False}


def graph(vertices, vertex_inputs, inputs=("in",), order=None):
    conf = {"networkInputs": list(inputs), "networkOutputs": [list(vertices)[-1]], "vertices": vertices,
            "vertexInputs": vertex_inputs}
    if order:
        conf["topologicalOrderStr"] = order
    return conf


def test_merge_and_elementwise_vertices():
    x = rand(4, 3)
    W1, b1, W2, b2, Wo, bo = rand(3, 2), rand(2), rand(3, 2), rand(2), rand(4, 2), rand(2)
    ops = ["Add", "Subtract", "Product", "Average", "Max"]
    vertices = {"d2": lv(dense(3, 2, "TanH")), "d1": lv(dense(3, 2)), "merge": {"@class": G + "MergeVertex"}}
    inputs = {"d1": ["in"], "d2": ["in"], "merge": ["d1", "d2"]}
    for name in ops:
        vertices[name] = {"@class": G + "ElementWiseVertex", "op": name}
        inputs[name] = ["d1", "d2"]
    vertices["out"] = lv(dense(4, 2, "Softmax", cls="OutputLayer"))
    inputs["out"] = ["merge"]
    order = ["in", "d1", "d2", "merge", *ops, "out"]
    params = flat((W1, "f"), (b1, "f"), (W2, "f"), (b2, "f"), (Wo, "f"), (bo, "f"))  # topological order
    acts = run_reference(graph(vertices, inputs, order=order), {"in": x}, params=params)
    assert list(acts) == order
    a = x.astype(np.float64) @ W1 + b1
    b = np.tanh(x.astype(np.float64) @ W2 + b2)
    expected = {"merge": np.concatenate([a, b], 1), "Add": a + b, "Subtract": a - b, "Product": a * b,
                "Average": (a + b) / 2, "Max": np.maximum(a, b)}
    for key, value in expected.items():
        assert np.allclose(acts[key], value, atol=1e-6), key
    e = np.exp(expected["merge"] @ Wo + bo)
    assert np.allclose(acts["out"], e / e.sum(1, keepdims=True), atol=1e-6)
    # without topologicalOrderStr the executor sorts the graph itself (inputs, then JSON order when free)
    acts2 = run_reference(graph(vertices, inputs), [x], params=flat((W2, "f"), (b2, "f"), (W1, "f"), (b1, "f"),
                                                                    (Wo, "f"), (bo, "f")))
    assert np.allclose(acts2["out"], acts["out"], atol=1e-7)


def test_merge_vertex_axis_for_nhwc_data():
    """MergeVertex concatenates on mergeAxis; its field default is 1, even for NHWC activations."""
    a, b = rand(2, 3, 4, 5), rand(2, 3, 4, 6)
    nhwc = graph({"m": {"@class": G + "MergeVertex", "mergeAxis": 3, "modified": True}}, {"m": ["a", "b"]},
                 inputs=("a", "b"))
    assert np.array_equal(run_reference(nhwc, [a, b], params=flat())["m"], np.concatenate([a, b], axis=3))
    default = graph({"m": {"@class": G + "MergeVertex"}}, {"m": ["a", "b"]}, inputs=("a", "b"))
    with pytest.raises(WorkbenchError, match="mergeAxis 1"):
        run_reference(default, [a, b], params=flat())


def test_other_vertices_and_layer_vertex_preprocessor():
    x = rand(2, 6, 4)  # NCW
    vertices = {
        "sub": {"@class": G + "SubsetVertex", "from": 1, "to": 3},
        "scale": {"@class": G + "ScaleVertex", "scaleFactor": 2.0},
        "shift": {"@class": G + "ShiftVertex", "shiftFactor": -1.0},
        "reshape": {"@class": G + "ReshapeVertex", "newShape": [2, 12], "reshapeOrder": "c"},
        "last": {"@class": G + "rnn.LastTimeStepVertex", "maskArrayInputName": None},
        "ff": lv(dense(6, 3), pre={"@class": P + "RnnToFeedForwardPreProcessor", "rnnDataFormat": "NCW"}),
    }
    inputs = {"sub": ["in"], "scale": ["sub"], "shift": ["scale"], "reshape": ["shift"], "last": ["in"], "ff": ["in"]}
    W, b = rand(6, 3), rand(3)
    acts = run_reference(graph(vertices, inputs, order=["in", *vertices]), [x], params=flat((W, "f"), (b, "f")))
    s = x[:, 1:4].astype(np.float64) * 2 - 1
    assert np.allclose(acts["shift"], s) and np.allclose(acts["reshape"], s.reshape(2, 12))
    assert np.array_equal(acts["last"], x[:, :, -1])
    assert acts["ff"].shape == (8, 3)
    assert np.allclose(acts["ff"][1], x[1, :, 0] @ W + b, atol=1e-6)


# ------------------------------------------------------------------------- misc shape layers


def test_padding_cropping_upsampling_layers():
    x = rand(1, 2, 3, 4)
    zp = last(run_reference(mln(layer("ZeroPaddingLayer", padding=[1, 0, 2, 3], dataFormat="NCHW")), [x],
                            params=flat()))
    assert zp.shape == (1, 2, 4, 9) and np.array_equal(zp[:, :, 1:, 2:6], x)
    cr = last(run_reference(mln(layer(L + "convolutional.Cropping2D", cropping=[1, 0, 1, 1], dataFormat="NHWC")),
                            [x], params=flat()))
    assert np.array_equal(cr, x[:, 1:, 1:2, :])
    up = last(run_reference(mln(layer("Upsampling2D", size=[2, 3], format="NCHW")), [x], params=flat()))
    assert np.array_equal(up, x.repeat(2, axis=2).repeat(3, axis=3))
    x3 = rand(2, 3, 5)
    assert np.array_equal(last(run_reference(mln(layer("Upsampling1D", size=[2, 2])), [x3], params=flat())),
                          x3.repeat(2, axis=2))
    with pytest.raises(WorkbenchError, match="size\\[1\\]"):
        run_reference(mln(layer("Upsampling1D", size=[2])), [x3], params=flat())
    rv = last(run_reference(mln(layer(L + "misc.RepeatVector", n=3, dataFormat="NWC")), [x3[:, :, 0]], params=flat()))
    assert rv.shape == (2, 3, 3) and np.array_equal(rv[:, 2], x3[:, :, 0])


def test_prelu_shared_axes():
    x = rand(2, 3, 4, 5)
    alpha = rand(3, 1, 1)
    conf = layer("PReLULayer", inputShape=[3, 4, 5], sharedAxes=[2, 3], nin=0, nout=0)
    got = last(run_reference(mln(conf), [x], params=flat((alpha, "f"))))
    assert np.allclose(got, np.where(x < 0, alpha[None] * x, x), atol=1e-7)


def test_registry_covers_the_brief():
    for name in ["DenseLayer", "OutputLayer", "RnnOutputLayer", "ActivationLayer", "DropoutLayer", "LossLayer",
                 "CnnLossLayer", "RnnLossLayer", "ConvolutionLayer", "Convolution1DLayer", "Convolution3D",
                 "Deconvolution2D", "DepthwiseConvolution2D", "SeparableConvolution2D", "SubsamplingLayer",
                 "Subsampling1DLayer", "Subsampling3DLayer", "GlobalPoolingLayer", "ZeroPaddingLayer",
                 "ZeroPadding1DLayer", "ZeroPadding3DLayer", "Cropping1D", "Cropping2D", "Cropping3D", "Upsampling1D",
                 "Upsampling2D", "Upsampling3D", "BatchNormalization", "EmbeddingLayer", "EmbeddingSequenceLayer",
                 "LSTM", "GravesLSTM", "SimpleRnn", "Bidirectional", "LastTimeStep", "RepeatVector", "PReLULayer",
                 "MaskZeroLayer"]:
        assert name in LAYER_OPS, name


@pytest.mark.tensorflow
@pytest.mark.parametrize("kind,keras_cls", [("MAX", "MaxPooling1D"), ("AVG", "AveragePooling1D")])
def test_subsampling1d_matches_keras(keras, kind, keras_cls):
    x = rand(2, 9, 3)  # NWC
    ref = np.asarray(getattr(keras.layers, keras_cls)(3, strides=2, padding="same")(x))
    conf = layer("Subsampling1DLayer", poolingType=kind, kernelSize=[3, 1], stride=[2, 1], padding=[0, 0],
                 convolutionMode="Same", avgPoolIncludePadInDivisor=False)
    got = last(run_reference(mln(conf), [x.transpose(0, 2, 1)], params=flat()))
    assert np.abs(got.transpose(0, 2, 1) - ref).max() < 1e-6


@pytest.mark.tensorflow
@pytest.mark.parametrize("kind,keras_cls", [("MAX", "MaxPooling3D"), ("AVG", "AveragePooling3D")])
def test_subsampling3d_and_upsampling3d_match_keras(keras, kind, keras_cls):
    x = rand(1, 5, 4, 6, 2)  # NDHWC
    ref = np.asarray(getattr(keras.layers, keras_cls)(2, strides=2, padding="same")(x))
    conf = layer("Subsampling3DLayer", poolingType=kind, kernelSize=[2, 2, 2], stride=[2, 2, 2], padding=[0, 0, 0],
                 dilation=[1, 1, 1], convolutionMode="Same", dataFormat="NDHWC")
    got = last(run_reference(mln(conf), [x], params=flat()))
    assert np.abs(got - ref).max() < 1e-6
    up = last(run_reference(mln(layer("Upsampling3D", size=[2, 1, 3], dataFormat="NDHWC")), [x], params=flat()))
    assert np.array_equal(up, np.asarray(keras.layers.UpSampling3D((2, 1, 3))(x)))


def test_time_distributed_dense_is_per_time_step():
    x = rand(2, 4, 3)  # NCW
    W, b = rand(4, 5), rand(5)
    conf = mln(layer(L + "recurrent.TimeDistributed", underlying=dense(4, 5, "TanH"), rnnDataFormat="NCW"))
    got = last(run_reference(conf, [x], params=flat((W, "f"), (b, "f"))))
    assert got.shape == (2, 5, 3)
    assert np.allclose(got, np.tanh(np.einsum("bft,fo->bot", x.astype(np.float64), W) + b[None, :, None]), atol=1e-6)


def test_keras_import_preprocessors():
    x = rand(2, 12)
    pp = {"0": {"@class": "org.deeplearning4j.preprocessors.ReshapePreprocessor", "inputShape": [12],
                "targetShape": [3, 4], "hasMiniBatchDimension": False},
          "1": {"@class": "org.deeplearning4j.preprocessors.PermutePreprocessor", "permutationIndices": [2, 1]}}
    conf = mln(layer("ActivationLayer", activationFn=act("Identity")),
               layer("ActivationLayer", activationFn=act("Identity")), pre=pp)
    acts = run_reference(conf, [x], params=flat())
    assert np.array_equal(acts["0"], x.reshape(2, 3, 4))
    assert np.array_equal(acts["1"], x.reshape(2, 3, 4).transpose(0, 2, 1))


def test_strict_mode_and_bad_input_are_reported_with_the_layer_name():
    conf = mln(conv(1, 1, (2, 2), mode="Strict", stride=(2, 2)) | {"layerName": "c"})
    with pytest.raises(WorkbenchError) as err:
        run_reference(conf, [rand(1, 1, 5, 5)], params=flat((np.zeros(1), "c"), (np.zeros((1, 1, 2, 2)), "c")))
    assert err.value.layer == "c" and "Strict" in str(err.value)
    with pytest.raises(WorkbenchError, match="nIn"):
        run_reference(mln(conv(2, 1, (2, 2))), [rand(1, 3, 5, 5)], params=flat((np.zeros(1), "c"),
                                                                             (np.zeros((1, 2, 2, 2)), "c")))
