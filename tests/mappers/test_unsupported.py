"""Keras layers DL4J 1.0.0-M2.1 has no layer for: each is refused, naming the layer, "needs a generated
layer" and what DL4J lacks; Rescaling is mapped where one DL4J vertex is exact."""
from __future__ import annotations

import numpy as np
import pytest

from tests.mappers.harness import check_model, keras
from workbench.errors import MappingError

pytestmark = [pytest.mark.tensorflow]


def _refusal(model, tmp_path) -> MappingError:
    from workbench.session import Session
    path = tmp_path / "refused.keras"
    model.save(path)
    with pytest.raises(MappingError) as info:
        _ = Session(path).conversion
    return info.value


def _one(shape, layer):
    def build(k):
        x = k.Input(shape)
        return k.Model(x, layer(k.layers)(x))
    return build


def _two(shape, layer):
    def build(k):
        a, b = k.Input(shape), k.Input(shape)
        return k.Model([a, b], layer(k.layers)([a, b]))
    return build


def _mha(k):
    x = k.Input((4, 6))
    return k.Model(x, k.layers.MultiHeadAttention(num_heads=2, key_dim=3, name="refused")(x, x))


CASES = {
    "GroupNormalization": (_one((4, 4), lambda L: L.GroupNormalization(groups=2, name="refused")), "group"),
    "UnitNormalization": (_one((4,), lambda L: L.UnitNormalization(name="refused")), "L2"),
    "MultiHeadAttention": (_mha, "SelfAttentionLayer"),
    "Attention": (_two((3, 4), lambda L: L.Attention(name="refused")), "attention"),
    "AdditiveAttention": (_two((3, 4), lambda L: L.AdditiveAttention(name="refused")), "additive"),
    "Dot": (_two((4,), lambda L: L.Dot(axes=1, name="refused")), "dot"),
    "Minimum": (_two((4,), lambda L: L.Minimum(name="refused")), "no Min"),
    "ConvLSTM1D": (_one((3, 5, 2), lambda L: L.ConvLSTM1D(2, 3, name="refused")), "convolutional LSTM"),
    "ConvLSTM2D": (_one((3, 5, 5, 2), lambda L: L.ConvLSTM2D(2, 3, name="refused")), "convolutional LSTM"),
    "ConvLSTM3D": (_one((2, 4, 4, 4, 1), lambda L: L.ConvLSTM3D(1, 2, name="refused")), "convolutional LSTM"),
    # NB: bias_axes set: the reader refuses an EinsumDense without bias (it expects kernel + bias).
    "EinsumDense": (_one((4,), lambda L: L.EinsumDense("ab,bc->ac", output_shape=3, bias_axes="c", name="refused")),
                    "einsum"),
    "Conv1DTranspose": (_one((5, 2), lambda L: L.Conv1DTranspose(2, 3, name="refused")), "Deconvolution2D"),
    "SeparableConv1D": (_one((5, 2), lambda L: L.SeparableConv1D(2, 3, name="refused")), "SeparableConvolution2D"),
    "Normalization(invert)": (_one((4,), lambda L: L.Normalization(mean=1.0, variance=2.0, invert=True,
                                                                   name="refused")), "de-normalization"),
    "Normalization(sequence)": (_one((3, 4), lambda L: L.Normalization(mean=1.0, variance=2.0, name="refused")),
                                "channels of"),
    "Normalization(tiny variance)": (_one((2,), lambda L: L.Normalization(mean=[0.0, 1.0], variance=[1.0, 1e-16],
                                                                          name="refused")), "1e-14"),
    "GRU": (_one((4, 2), lambda L: L.GRU(3, name="refused")), "GRU"),
    "Rescaling(scale, offset)": (_one((4,), lambda L: L.Rescaling(2.0, offset=1.0, name="refused")), "one vertex"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_with_what_dl4j_lacks(tmp_path, case):
    """The MappingError names the layer, says it needs a generated layer and what DL4J lacks."""
    build, lacks = CASES[case]
    err = _refusal(build(keras()), tmp_path)
    assert err.layer == "refused", err
    assert "needs a generated layer" in err.what and lacks in err.what, err.what
    assert err.expected is not None


def test_refusals_never_shadow_real_mappings():
    """Every class refused here has no other mapper, and the classes DL4J does have are not refused."""
    from workbench.mappers import lookup, unsupported
    from workbench.keras_io.model import LayerSpec
    for names, _ in unsupported.MISSING.items():
        for name in names:
            fn = lookup(LayerSpec(name=name, class_name=name, config={}))
            assert fn is not None
            if fn.__module__ != unsupported.__name__:
                continue  # mapped for real by another family: the refusal stepped aside
            assert fn.__name__ == "refuse"
    for real in ("Dense", "LSTM", "Conv2D", "Maximum", "BatchNormalization"):
        assert lookup(LayerSpec(name=real, class_name=real, config={})).__module__ != unsupported.__name__


@pytest.mark.dl4j
def test_rescaling_scale_or_offset(tmp_path):
    """Rescaling with offset 0 is DL4J's ScaleVertex, with scale 1 its ShiftVertex, exactly."""
    k = keras()
    L = k.layers
    img, vec = k.Input((3, 4, 2), name="img"), k.Input((5,), name="vec")
    outs = [L.Rescaling(1.0 / 255, name="scale_img")(img), L.Rescaling(1.0, offset=-0.5, name="shift_vec")(vec),
            L.Rescaling(-3.0, name="scale_vec")(vec)]
    outs.append(L.Conv2D(2, 2, name="conv_after")(outs[0]))
    model = k.Model([img, vec], outs)
    rng = np.random.default_rng(1)
    arrays = {"img": rng.uniform(0, 255, size=(2, 3, 4, 2)).astype("float32"),
              "vec": rng.normal(size=(2, 5)).astype("float32")}
    names = [layer.name for layer in model.layers if type(layer).__name__ == "InputLayer"]
    for fmt in ("NHWC", "NCHW"):
        check_model(model, {n: arrays[n] for n in names}, tmp_path, cnn_format=fmt, name=f"rescale_{fmt}")


@pytest.mark.dl4j
def test_normalization_as_batch_normalization(tmp_path):
    """Normalization (given or adapted mean/variance) is DL4J's BatchNormalization with gamma 1, beta 0, eps 0."""
    k = keras()
    L = k.layers
    r = np.random.default_rng(2)
    img, vec = k.Input((3, 4, 2), name="img"), k.Input((5,), name="vec")
    adapted_img = L.Normalization(name="adapted_img")
    adapted_img.adapt(r.normal(size=(16, 3, 4, 2)) * 3 + 1)
    adapted_vec = L.Normalization(name="adapted_vec")
    adapted_vec.adapt(r.normal(size=(16, 5)) * 0.5)
    outs = [L.Normalization(mean=[0.5, 1.0], variance=[2.0, 0.5], name="given_img")(img), adapted_img(img),
            adapted_vec(vec), L.Normalization(mean=2.0, variance=4.0, name="scalar_vec")(vec)]
    outs.append(L.Conv2D(2, 2, name="conv_after")(outs[1]))
    model = k.Model([img, vec], outs)
    arrays = {"img": r.normal(size=(2, 3, 4, 2)).astype("float32"), "vec": r.normal(size=(2, 5)).astype("float32")}
    names = [layer.name for layer in model.layers if type(layer).__name__ == "InputLayer"]
    for fmt in ("NHWC", "NCHW"):
        check_model(model, {n: arrays[n] for n in names}, tmp_path, cnn_format=fmt, name=f"norm_{fmt}")
