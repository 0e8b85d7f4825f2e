"""LSTM, SimpleRNN, Bidirectional and TimeDistributed against TensorFlow, in the NumPy reference and in
real DL4J, in NWC and NCW; and the recurrent layers DL4J cannot express, refused."""
from __future__ import annotations

import numpy as np
import pytest

from tests.mappers.harness import check_model, dl4j_available, keras, randomize, refusal
from workbench.errors import MappingError

pytestmark = [pytest.mark.tensorflow]
FORMATS = ["NHWC", "NCHW"]  # recurrent layers then run NWC / NCW
rng = np.random.default_rng(7)


def _seq(batch=2, steps=5, features=3, scale=1.0):
    return (rng.normal(size=(batch, steps, features)) * scale).astype("float32")






@pytest.mark.dl4j
@pytest.mark.parametrize("cnn_format", FORMATS)
def test_lstm_and_simple_rnn_configurations(tmp_path, cnn_format):
    """LSTM/SimpleRNN: units, return_sequences both ways, activations, use_bias=False, unit_forget_bias, stacking."""
    k = keras()
    L = k.layers
    x = k.Input((5, 3))
    outs = [
        L.LSTM(4, return_sequences=True, name="lstm_seq")(x),
        L.LSTM(3, name="lstm_last")(x),
        L.LSTM(2, activation="relu", recurrent_activation="tanh", return_sequences=True, name="lstm_relu_tanh")(x),
        L.LSTM(3, use_bias=False, name="lstm_nobias")(x),
        L.LSTM(3, unit_forget_bias=False, activation="softsign", return_sequences=True, name="lstm_softsign")(x),
        L.SimpleRNN(4, return_sequences=True, name="rnn_seq")(x),
        L.SimpleRNN(3, activation="relu", name="rnn_relu_last")(x),
        L.SimpleRNN(2, activation="linear", use_bias=False, return_sequences=True, name="rnn_linear_nobias")(x),
    ]
    stacked = L.LSTM(3, return_sequences=True, name="stack_1")(x)
    outs.append(L.SimpleRNN(2, name="stack_2")(L.LSTM(4, return_sequences=True, name="stack_mid")(stacked)))
    model = randomize(k.Model(x, outs))
    check_model(model, _seq(), tmp_path, cnn_format=cnn_format)


@pytest.mark.dl4j
@pytest.mark.parametrize("cnn_format", FORMATS)
def test_bidirectional_merge_modes(tmp_path, cnn_format):
    """Bidirectional(LSTM/SimpleRNN): concat, sum, mul, ave, with and without return_sequences."""
    k = keras()
    L = k.layers
    x = k.Input((5, 3))
    outs = []
    for seq in (True, False):
        for mode in ("concat", "sum", "mul", "ave"):
            outs.append(L.Bidirectional(L.LSTM(3, return_sequences=seq), merge_mode=mode,
                                        name=f"bi_lstm_{mode}_{seq}")(x))
            outs.append(L.Bidirectional(L.SimpleRNN(2, return_sequences=seq, activation="relu"), merge_mode=mode,
                                        name=f"bi_rnn_{mode}_{seq}")(x))
    outs.append(L.Bidirectional(L.LSTM(2, use_bias=False, return_sequences=True), name="bi_nobias")(x))
    model = randomize(k.Model(x, outs))
    check_model(model, _seq(), tmp_path, cnn_format=cnn_format)


@pytest.mark.dl4j
@pytest.mark.parametrize("cnn_format", FORMATS)
def test_bidirectional_feeding_recurrent_and_dense(tmp_path, cnn_format):
    """A stacked Bidirectional → LSTM → Dense model propagates exactly (merged sequences are NWC/NCW)."""
    k = keras()
    L = k.layers
    x = k.Input((6, 2))
    h = L.Bidirectional(L.LSTM(3, return_sequences=True), name="bi")(x)
    h = L.Bidirectional(L.SimpleRNN(2), merge_mode="ave", name="bi_last")(h)
    y = L.Dense(2, name="head")(h)
    check_model(randomize(k.Model(x, y)), _seq(steps=6, features=2), tmp_path, cnn_format=cnn_format)


def test_bidirectional_last_step_is_inside_each_direction(tmp_path):
    """return_sequences=False maps to Bidirectional(LastTimeStep(x)), never LastTimeStep(Bidirectional(x))."""
    from workbench.session import Session
    k = keras()
    x = k.Input((4, 2))
    model = k.Model(x, k.layers.Bidirectional(k.layers.LSTM(2), name="bi")(x))
    model.save(tmp_path / "bi.keras")
    layer = Session(tmp_path / "bi.keras").conversion.mapped["bi"].layer
    assert layer["@class"].endswith("recurrent.Bidirectional")
    assert layer["fwd"]["@class"].endswith("LastTimeStep") and layer["bwd"]["@class"].endswith("LastTimeStep")
    assert [p.key for p in Session(tmp_path / "bi.keras").conversion.mapped["bi"].params] == \
        ["fW", "fRW", "fb", "bW", "bRW", "bb"]


@pytest.mark.dl4j
@pytest.mark.parametrize("cnn_format", FORMATS)
def test_time_distributed_and_dense_on_sequences(tmp_path, cnn_format):
    """TimeDistributed(Dense/Activation/BatchNormalization/Dropout) and Dense on [b, t, f] after an LSTM."""
    k = keras()
    L = k.layers
    x = k.Input((5, 3))
    h = L.LSTM(4, return_sequences=True, name="lstm")(x)
    outs = [
        L.TimeDistributed(L.Dense(3, activation="tanh"), name="td_dense")(h),
        L.TimeDistributed(L.Dense(2, use_bias=False), name="td_dense_nobias")(h),
        L.Dense(3, activation="sigmoid", name="dense_rank3")(h),
        L.TimeDistributed(L.BatchNormalization(), name="td_bn")(h),
        L.TimeDistributed(L.Dropout(0.5), name="td_dropout")(h),
    ]
    outs.append(L.TimeDistributed(L.Activation("relu"), name="td_relu")(L.Dense(3, name="pre_relu")(x)))
    outs.append(L.SimpleRNN(2, name="rnn_after_td")(outs[0]))
    model = randomize(k.Model(x, outs))
    check_model(model, _seq(), tmp_path, cnn_format=cnn_format)


def _check_keras2(model, x, tmp_path, cnn_format):
    """check_model for a tf_keras (Keras 2) model saved as HDF5."""
    from workbench.session import Session
    if not dl4j_available():
        pytest.skip("Java 17 and Maven are needed for real-DL4J checks")
    path = tmp_path / "keras2.h5"
    model.save(path)
    session = Session(path, cnn_format=cnn_format)
    assert session.model.keras_major == 2
    name = [s.name for s in session.model.layers if s.is_input][0]
    report = session.verify({name: x}, dl4j=True)
    assert report.dl4j_error is None, report.dl4j_error
    bad = [(c.name, c.status, c.isolated, c.propagated, c.dl4j) for c in report.layers if c.status != "ok"]
    assert not bad, bad
    assert all(c.dl4j is not None for c in report.layers)
    return report


@pytest.mark.dl4j
@pytest.mark.parametrize("cnn_format", FORMATS)
def test_keras2_hard_sigmoid_is_dl4j_hard_sigmoid(tmp_path, cnn_format):
    """Keras 2's hard_sigmoid (clip(0.2x+0.5)) maps to DL4J's HardSigmoid in LSTM, Bidirectional and SimpleRNN."""
    tfk = pytest.importorskip("tf_keras")
    L = tfk.layers
    x = tfk.Input((5, 3))
    outs = [L.LSTM(3, recurrent_activation="hard_sigmoid", return_sequences=True, name="lstm_hs")(x),
            L.Bidirectional(L.LSTM(2, recurrent_activation="hard_sigmoid"), name="bi_hs")(x),
            L.SimpleRNN(3, activation="hard_sigmoid", name="rnn_hs")(x)]
    model = randomize(tfk.Model(x, outs))
    _check_keras2(model, _seq(scale=3.0), tmp_path, cnn_format)  # scaled so the clip is reached


def test_keras3_hard_sigmoid_is_refused(tmp_path):
    """Keras 3's hard_sigmoid (relu6(x+3)/6) is not DL4J's HardSigmoid (slope 0.2): refused, naming it."""
    k = keras()
    x = k.Input((4, 2))
    err = refusal(k.Model(x, k.layers.LSTM(2, recurrent_activation="hard_sigmoid", name="lstm_hs")(x)), tmp_path)
    assert err.layer == "lstm_hs" and "hard_sigmoid" in str(err)


def test_gru_needs_a_generated_layer(tmp_path):
    """GRU (alone or in a Bidirectional) is refused: DL4J M2.1 has no GRU, and SimpleRnn is no stand-in."""
    k = keras()
    x = k.Input((4, 2))
    err = refusal(k.Model(x, k.layers.GRU(3, name="gru")(x)), tmp_path)
    assert err.layer == "gru" and "needs a generated layer" in err.what
    err = refusal(k.Model(x, k.layers.Bidirectional(k.layers.GRU(3), name="bi_gru")(x)), tmp_path)
    assert err.layer == "bi_gru" and "needs a generated layer" in err.what


@pytest.mark.parametrize("build, layer, phrase", [
    (lambda L: L.LSTM(2, go_backwards=True, name="back"), "back", "go_backwards"),
    (lambda L: L.SimpleRNN(2, go_backwards=True, return_sequences=True, name="back"), "back", "go_backwards"),
    (lambda L: L.Bidirectional(L.LSTM(2, return_sequences=True), merge_mode=None, name="bi_none"), "bi_none",
     "merge_mode=None"),
    (lambda L: L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(3, go_backwards=True), name="bi_uneven"),
     "bi_uneven", "differ"),
])
def test_recurrent_refusals(tmp_path, build, layer, phrase):
    """go_backwards, merge_mode=None and uneven Bidirectional halves are refused with the reason."""
    k = keras()
    x = k.Input((4, 2))
    out = build(k.layers)(x)
    err = refusal(k.Model(x, out), tmp_path)
    assert err.layer == layer and phrase in err.what


def test_return_state_is_refused(tmp_path):
    """return_state=True (several outputs) is refused on the layer."""
    k = keras()
    x = k.Input((4, 2))
    seq, h, c = k.layers.LSTM(2, return_state=True, return_sequences=True, name="stateful_out")(x)
    err = refusal(k.Model(x, seq), tmp_path)
    assert err.layer == "stateful_out"


def test_mask_input_is_refused(tmp_path):
    """An LSTM given a Keras 3 mask as a second input (after Masking) refuses it rather than drop the mask."""
    from workbench.keras_io import load_model
    from workbench.mappers import Activation, MapContext, lookup
    k = keras()
    x = k.Input((4, 2))
    k.Model(x, k.layers.LSTM(2, name="masked_lstm")(k.layers.Masking()(x))).save(tmp_path / "m.keras")
    spec = load_model(tmp_path / "m.keras").layer("masked_lstm")
    assert len(spec.nodes[0]) == 2  # the sequence and its mask
    seq, mask = Activation("rnn", (4, 2), "NWC"), Activation("ff", (4,), None)
    with pytest.raises(MappingError) as info:
        lookup(spec)(MapContext(spec, (seq, mask)))
    assert info.value.layer == "masked_lstm" and "mask" in info.value.what


def test_time_distributed_over_images_refused(tmp_path):
    """TimeDistributed(Conv2D) over [b, t, h, w, c] has no DL4J wrapper (TimeDistributed wraps [b, f] layers)."""
    k = keras()
    x = k.Input((3, 4, 4, 2))
    err = refusal(k.Model(x, k.layers.TimeDistributed(k.layers.Conv2D(2, 2), name="td_conv")(x)), tmp_path)
    assert err.layer == "td_conv" and "TimeDistributed" in err.what
