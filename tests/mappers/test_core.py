"""Core layers (Dense on any rank, Reshape, Permute, RepeatVector, PReLU) against TensorFlow, in the NumPy
reference and real DL4J, NHWC and NCHW; Masking and inexact reshapes refused."""
from __future__ import annotations

import numpy as np
import pytest

from tests.mappers.harness import check_model, keras, randomize, refusal

pytestmark = [pytest.mark.tensorflow]
FORMATS = ["NHWC", "NCHW"]
rng = np.random.default_rng(11)


def _x(*shape):
    return rng.normal(size=(2, *shape)).astype("float32")




def _by_layer_order(model, arrays: dict) -> dict:
    """Inputs ordered like the model's input layers (the harness pairs them by position)."""
    names = [layer.name for layer in model.layers if type(layer).__name__ == "InputLayer"]
    return {n: arrays[n] for n in names}




@pytest.mark.dl4j
@pytest.mark.parametrize("cnn_format", FORMATS)
def test_dense_on_sequences_and_images(tmp_path, cnn_format):
    """Keras 3 Dense on [b, t, f] (TimeDistributed DenseLayer) and on [b, h, w, c] (1×1 convolution)."""
    k = keras()
    L = k.layers
    seq, img = k.Input((5, 4), name="seq"), k.Input((3, 4, 2), name="img")
    outs = [L.Dense(3, name="d_seq")(seq),
            L.Dense(2, activation="tanh", use_bias=False, name="d_seq_nobias")(seq),
            L.Dense(5, activation="relu", name="d_img")(img),
            L.Dense(3, use_bias=False, name="d_img_nobias")(img)]
    outs.append(L.Dense(2, name="d_img_chain")(outs[2]))
    model = randomize(k.Model([seq, img], outs))
    check_model(model, _by_layer_order(model, {"seq": _x(5, 4), "img": _x(3, 4, 2)}), tmp_path, cnn_format=cnn_format)


@pytest.mark.dl4j
def test_reshape_permute_repeat_nhwc(tmp_path):
    """Reshape between ff/sequence/image ranks, Permute of sequences and images, RepeatVector, in NHWC."""
    k = keras()
    L = k.layers
    seq, img, vec = k.Input((6, 4), name="seq"), k.Input((4, 6, 3), name="img"), k.Input((12,), name="vec")
    outs = [
        L.Reshape((24, 3), name="img_to_seq")(img), L.Reshape((4, 18), name="img_to_seq_rows")(img),
        L.Reshape((72,), name="img_to_vec")(img), L.Reshape((2, 6, 6), name="img_to_img")(img),
        L.Reshape((3, 4), name="vec_to_seq")(vec), L.Reshape((2, 3, 2), name="vec_to_img")(vec),
        L.Reshape((4, 3, 2), name="seq_to_img")(seq), L.Reshape((-1,), name="seq_to_vec")(seq),
        L.Permute((2, 1), name="perm_seq")(seq), L.Permute((3, 1, 2), name="perm_img_cfirst")(img),
        L.Permute((2, 1, 3), name="perm_img_hw")(img), L.RepeatVector(3, name="repeat")(vec),
    ]
    outs.append(L.LSTM(2, name="lstm_after_repeat")(outs[-1]))
    outs.append(L.Dense(2, name="dense_after_reshape")(outs[2]))
    outs.append(L.Conv2D(2, 2, name="conv_after_permute")(outs[9]))
    model = randomize(k.Model([seq, img, vec], outs))
    arrays = {"seq": _x(6, 4), "img": _x(4, 6, 3), "vec": _x(12)}
    check_model(model, _by_layer_order(model, arrays), tmp_path, cnn_format="NHWC")


@pytest.mark.dl4j
def test_reshape_permute_repeat_nchw(tmp_path):
    """In NCHW/NCW: Permute of any axes, RepeatVector, and the Reshapes that keep the channel count."""
    k = keras()
    L = k.layers
    seq, img, vec = k.Input((6, 4), name="seq"), k.Input((4, 6, 3), name="img"), k.Input((12,), name="vec")
    outs = [
        L.Permute((2, 1), name="perm_seq")(seq), L.Permute((3, 1, 2), name="perm_img_cfirst")(img),
        L.Permute((2, 1, 3), name="perm_img_hw")(img), L.Permute((1, 3, 2), name="perm_img_wc")(img),
        L.Reshape((24, 3), name="img_to_seq_same_c")(img), L.Reshape((2, 12, 3), name="img_to_img_same_c")(img),
        L.Reshape((3, 2, 4), name="seq_to_img_same_c")(seq), L.RepeatVector(2, name="repeat")(vec),
    ]
    outs.append(L.LSTM(3, return_sequences=True, name="lstm_after_repeat")(outs[-1]))
    outs.append(L.LSTM(2, name="lstm_after_reshape")(outs[4]))
    outs.append(L.Conv2D(2, 2, name="conv_after_permute")(outs[1]))
    model = randomize(k.Model([seq, img, vec], outs))
    arrays = {"seq": _x(6, 4), "img": _x(4, 6, 3), "vec": _x(12)}
    check_model(model, _by_layer_order(model, arrays), tmp_path, cnn_format="NCHW")


@pytest.mark.parametrize("target", [(72,), (4, 18), (2, 6, 6)])
def test_reshape_mixing_channels_refused_in_nchw(tmp_path, target):
    """A Reshape that moves data across the channel axis is refused in NCHW (it would silently interleave)."""
    k = keras()
    x = k.Input((4, 6, 3))
    err = refusal(k.Model(x, k.layers.Reshape(target, name="mix")(x)), tmp_path, cnn_format="NCHW")
    assert err.layer == "mix" and "channel" in err.what and "NHWC" in err.what


def test_reshape_after_flatten_refused(tmp_path):
    """Flatten → Reshape is refused: DL4J still holds the CNN tensor where the Flatten was folded away."""
    k = keras()
    x = k.Input((2, 3, 2))
    err = refusal(k.Model(x, k.layers.Reshape((6, 2), name="rs")(k.layers.Flatten()(x))), tmp_path)
    assert err.layer == "rs" and "Flatten" in err.what


@pytest.mark.dl4j
@pytest.mark.parametrize("cnn_format", FORMATS)
def test_prelu_shared_axes(tmp_path, cnn_format):
    """PReLU on vectors, sequences and images, with no, spatial and channel shared_axes."""
    # NB: each PReLU reads its own model input: DL4J's PReLU (like ActivationLayer) overwrites its input
    #     array at inference, which would corrupt any other reader of the same tensor.
    k = keras()
    L = k.layers
    shapes = {"vec": (5,), "seq": (4, 3), "img_full": (3, 4, 2), "img_hw": (3, 4, 2), "img_c": (3, 4, 2),
              "seq_t": (4, 3)}
    shared = {"img_hw": [1, 2], "img_c": [3], "seq_t": [1]}
    inputs = {n: k.Input(s, name=n) for n, s in shapes.items()}
    outs = [L.PReLU(shared_axes=shared.get(n), name=f"prelu_{n}")(t) for n, t in inputs.items()]
    model = randomize(k.Model(list(inputs.values()), outs))
    check_model(model, _by_layer_order(model, {n: _x(*s) for n, s in shapes.items()}), tmp_path, cnn_format=cnn_format)


def test_masking_refused(tmp_path):
    """Masking is refused: DL4J's MaskZeroLayer resets recurrent state at masked steps, Keras carries it."""
    k = keras()
    x = k.Input((4, 2))
    err = refusal(k.Model(x, k.layers.Masking(name="mask")(x)), tmp_path)
    assert err.layer == "mask" and "MaskZeroLayer" in err.what
