"""Activations (as layers and as layer arguments), advanced activations, dropout/noise layers,
BatchNormalization and Embedding, against TensorFlow in the NumPy reference and real DL4J."""
from __future__ import annotations

import numpy as np
import pytest

from tests.mappers.harness import check_model, keras, randomize, refusal

pytestmark = [pytest.mark.tensorflow, pytest.mark.dl4j]
FORMATS = ["NHWC", "NCHW"]
rng = np.random.default_rng(11)


def _branches(k, shape, makers, name="x"):
    x = k.Input(shape, name=name)
    return k.Model(x, [make(x) for make in makers])


def test_activation_layers_and_arguments(tmp_path):
    """Activation layers and Dense activations: relu, sigmoid, tanh, softmax, softplus, softsign, selu, elu, swish, linear."""
    k = keras()
    L = k.layers
    names = ["relu", "sigmoid", "tanh", "softmax", "softplus", "softsign", "selu", "elu", "swish", "linear", "relu6"]
    model = _branches(k, (6,), [lambda x, a=a: L.Activation(a, name=f"act_{a}")(x) for a in names]
                      + [lambda x, a=a: L.Dense(3, activation=a, name=f"dense_{a}")(x) for a in names])
    check_model(randomize(model), rng.normal(size=(4, 6)).astype("float32") * 2, tmp_path)


def test_advanced_activations(tmp_path):
    """ReLU (max_value, threshold, negative_slope), LeakyReLU, ELU and Softmax on vectors and images."""
    k = keras()
    L = k.layers
    makers = [
        lambda x: L.ReLU(name="relu_plain")(x),
        lambda x: L.ReLU(max_value=1.5, name="relu_max")(x),
        lambda x: L.ReLU(negative_slope=0.1, threshold=0.2, name="relu_leaky_threshold")(x),
        lambda x: L.LeakyReLU(negative_slope=0.25, name="leaky")(x),
        lambda x: L.ELU(alpha=0.7, name="elu")(x),
        lambda x: L.Softmax(name="softmax")(x),
    ]
    check_model(_branches(k, (6,), makers), rng.normal(size=(3, 6)).astype("float32") * 2, tmp_path)
    img = _branches(k, (4, 5, 3), [m for m in makers[:5]], name="img")
    check_model(img, rng.normal(size=(2, 4, 5, 3)).astype("float32"), tmp_path, cnn_format="NHWC", name="img")


def test_keras2_leaky_relu_alpha_is_read_not_defaulted(tmp_path):
    """A Keras 2 LeakyReLU(alpha=0.3 default) keeps its slope (DL4J's importer silently uses 0.01)."""
    tfk = pytest.importorskip("tf_keras")
    x = tfk.Input((5,), name="x")
    model = tfk.Model(x, tfk.layers.LeakyReLU(name="leaky")(tfk.layers.Dense(4, name="d")(x)))
    path = tmp_path / "leaky_keras2.h5"
    model.save(path)
    from workbench.session import Session
    session = Session(path)
    assert session.conversion.mapped["leaky"].layer["activationFn"]["alpha"] == pytest.approx(0.3)
    report = session.verify({"x": rng.normal(size=(3, 5)).astype("float32")}, dl4j=True)
    assert report.passed


@pytest.mark.parametrize("cnn_format", FORMATS)
def test_dropout_and_noise_are_identity_at_inference(tmp_path, cnn_format):
    """Dropout, SpatialDropout2D, GaussianDropout, GaussianNoise, AlphaDropout: identity at inference in both."""
    k = keras()
    L = k.layers
    x = k.Input((4, 4, 3), name="x")
    y = L.Conv2D(2, 1, name="c")(x)
    outs = [L.Dropout(0.3, name="drop")(y), L.SpatialDropout2D(0.2, name="sdrop")(y),
            L.GaussianDropout(0.1, name="gdrop")(y), L.GaussianNoise(0.5, name="noise")(y),
            L.AlphaDropout(0.1, name="adrop")(y)]
    check_model(randomize(k.Model(x, outs)), rng.normal(size=(2, 4, 4, 3)).astype("float32"), tmp_path,
                cnn_format=cnn_format)


@pytest.mark.parametrize("cnn_format", FORMATS)
def test_batch_normalization_configurations(tmp_path, cnn_format):
    """BatchNormalization on images and vectors: epsilon, center=False, scale=False, non-trivial statistics."""
    k = keras()
    L = k.layers
    img = k.Input((3, 4, 5), name="img")
    vec = k.Input((6,), name="vec")
    outs = [L.BatchNormalization(name="bn_img")(img),
            L.BatchNormalization(epsilon=0.1, center=False, name="bn_nocenter")(img),
            L.BatchNormalization(scale=False, momentum=0.5, name="bn_noscale")(img),
            L.BatchNormalization(name="bn_vec")(vec)]
    model = k.Model([img, vec], outs)
    r = np.random.default_rng(4)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            layer.set_weights([(r.uniform(0.5, 2.0, w.shape) if "variance" in w.path else r.normal(size=w.shape))
                               .astype("float32") for w in layer.weights])
    inputs = {"img": r.normal(size=(2, 3, 4, 5)).astype("float32"), "vec": r.normal(size=(2, 6)).astype("float32")}
    check_model(model, inputs, tmp_path, cnn_format=cnn_format)


@pytest.mark.parametrize("cnn_format", FORMATS)
def test_embedding_configurations(tmp_path, cnn_format):
    """Embedding into LSTM and into Flatten→Dense: several vocabulary sizes and dimensions."""
    k = keras()
    L = k.layers
    ids = k.Input((6,), dtype="int32", name="ids")
    a = L.LSTM(3, name="lstm")(L.Embedding(30, 4, name="emb_a")(ids))
    b = L.Dense(2, name="dense")(L.Flatten(name="flat")(L.Embedding(7, 5, name="emb_b")(ids)))
    model = randomize(k.Model(ids, [a, b]))
    check_model(model, {"ids": np.random.default_rng(2).integers(0, 7, size=(3, 6)).astype("int32")}, tmp_path,
                cnn_format=cnn_format)


def test_embedding_mask_zero_is_refused(tmp_path):
    """mask_zero=True is refused (DL4J's masking differs), naming the layer."""
    k = keras()
    ids = k.Input((5,), dtype="int32", name="ids")
    err = refusal(k.Model(ids, k.layers.Embedding(10, 3, mask_zero=True, name="emb")(ids)), tmp_path)
    assert "emb" in str(err) and "mask_zero" in str(err)
