"""Generate the bundled sample Keras models (deterministically).

    python sample_models/generate.py            # writes into sample_models/
    python sample_models/generate.py --out DIR  # writes into DIR

Every model is built with Keras 3 (``import keras``), its weights are set from
fixed seeds, and then it is written as

* ``<stem>.keras``        Keras 3 native zip format (``model.save``)
* ``<stem>.h5``           Keras 3 legacy HDF5 (``model.save("x.h5")``)
* ``<stem>_keras2.h5``    the same architecture built with tf_keras (Keras 2),
                          with the *same* weight values copied over
* ``<stem>_io.npz``       a fixed input batch (``input:<input layer name>``)
                          and the Keras 3 outputs (``output:<output layer>``)

``seed`` additionally gets architecture-JSON + weights-only files and
``lambda_bytecode`` (a bad-input fixture) is written only as Keras 2 ``.h5``
(plus Keras 3 ``.h5`` when Keras 3 manages to write it).

Before finishing, every written file is reloaded (Keras 3 files with Keras 3,
Keras 2 files with tf_keras, custom objects from ``custom_layers.py``) and
must reproduce the stored outputs within 1e-6; otherwise this script fails.
CPU only, no downloads, idempotent.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

# Must be set before TensorFlow is imported.
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_DETERMINISTIC_OPS"] = "1"
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["PYTHONHASHSEED"] = "0"

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 20240611
ATOL = 1e-6
BATCH = 3
PACKAGE = "workbench_samples"

# Stems with io.npz / full verification, in generation order.
STEMS = ("seed", "cnn", "lstm", "functional", "scale_shift", "nested")


def load_custom_layers(path: Path = HERE / "custom_layers.py"):
    """Import custom_layers.py from its path (sample_models/ is no package)."""
    spec = importlib.util.spec_from_file_location("custom_layers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------
# Architectures.  One builder per model, written against the API shared by
# Keras 3 and tf_keras: ``K`` is the ``keras`` or ``tf_keras`` module and
# ``co`` the matching custom-objects dict.  Every layer is named explicitly so
# both frameworks give identical layer names.
# ---------------------------------------------------------------------------
def build_seed(K, co):
    return K.Sequential(
        [
            K.Input(shape=(784,), name="input"),
            K.layers.Dense(64, activation="relu", name="dense"),
            co["MyActivation"](name="my_activation"),
            K.layers.Dense(10, activation="softmax", name="dense_1"),
        ],
        name="seed",
    )


def build_cnn(K, co):
    return K.Sequential(
        [
            K.Input(shape=(12, 12, 3), name="input"),
            K.layers.Conv2D(4, (3, 3), activation="relu", padding="same", name="conv2d"),
            K.layers.BatchNormalization(epsilon=1e-3, name="batch_normalization"),
            K.layers.MaxPooling2D(pool_size=(2, 2), name="max_pooling2d"),
            K.layers.Conv2D(6, (3, 3), strides=(1, 1), padding="valid", activation="relu",
                            name="conv2d_1"),
            K.layers.Flatten(name="flatten"),
            K.layers.Dense(5, activation="softmax", name="dense"),
        ],
        name="cnn",
    )


def build_lstm(K, co):
    return K.Sequential(
        [
            K.Input(shape=(8,), dtype="int32", name="input"),
            K.layers.Embedding(20, 6, name="embedding"),
            K.layers.LSTM(7, return_sequences=True, name="lstm"),
            K.layers.LSTM(5, name="lstm_1"),
            K.layers.Dense(3, activation="softmax", name="dense"),
        ],
        name="lstm",
    )


def build_functional(K, co):
    a = K.Input(shape=(6,), name="a")
    b = K.Input(shape=(6,), name="b")
    da = K.layers.Dense(4, activation="relu", name="da")(a)
    db = K.layers.Dense(4, activation="tanh", name="db")(b)
    s = K.layers.Add(name="add")([da, db])
    c = K.layers.Concatenate(name="concatenate")([s, da])
    out = K.layers.Dense(3, name="out")(c)
    aux = K.layers.Dense(2, activation="sigmoid", name="aux")(s)
    return K.Model(inputs=[a, b], outputs=[out, aux], name="functional")


def build_scale_shift(K, co):
    return K.Sequential(
        [
            K.Input(shape=(10,), name="input"),
            K.layers.Dense(8, activation="relu", name="dense"),
            co["ScaleShift"](name="scale_shift"),
            K.layers.Dense(4, name="dense_1"),
        ],
        name="scale_shift",
    )


def build_nested(K, co):
    x = K.Input(shape=(6,), name="x")
    seq = K.Input(shape=(5, 4), name="seq")
    encoder = K.Sequential(
        [
            K.Input(shape=(6,), name="encoder_input"),
            K.layers.Dense(6, activation="relu", name="enc_dense"),
            K.layers.Dense(4, name="enc_out"),
        ],
        name="encoder",
    )
    shared = K.layers.Dense(4, activation="tanh", name="shared")
    h1 = shared(encoder(x))                                   # shared: call 1
    r = K.layers.Bidirectional(K.layers.LSTM(3, return_sequences=True, name="lstm"),
                               name="bidirectional")(seq)     # (5, 6)
    t = K.layers.TimeDistributed(K.layers.Dense(2, name="td_dense"),
                                 name="time_distributed")(r)  # (5, 2)
    f = K.layers.Flatten(name="flatten")(t)                   # (10,)
    p = K.layers.Dense(4, name="proj")(f)
    h2 = shared(p)                                            # shared: call 2
    m = K.layers.Concatenate(name="merge")([h1, h2])
    out = K.layers.Dense(3, activation="softmax", name="out")(m)
    return K.Model(inputs=[x, seq], outputs=out, name="nested")


BUILDERS = {
    "seed": build_seed,
    "cnn": build_cnn,
    "lstm": build_lstm,
    "functional": build_functional,
    "scale_shift": build_scale_shift,
    "nested": build_nested,
}

# (name, shape without batch, dtype, int high or None) of each model input.
INPUTS = {
    "seed": [("input", (784,), "float32", None)],
    "cnn": [("input", (12, 12, 3), "float32", None)],
    "lstm": [("input", (8,), "int32", 20)],
    "functional": [("a", (6,), "float32", None), ("b", (6,), "float32", None)],
    "scale_shift": [("input", (10,), "float32", None)],
    "nested": [("x", (6,), "float32", None), ("seq", (5, 4), "float32", None)],
}

DESCRIPTIONS = {
    "seed": "Sequential Dense-MyActivation-Dense; custom layer without weights "
            "(`workbench_samples>MyActivation`)",
    "cnn": "Conv2D(same) + BatchNormalization (non-trivial stats, eps 1e-3) + "
           "MaxPooling2D + Conv2D(valid) + Flatten + Dense, channels-last",
    "lstm": "int input, Embedding + stacked LSTM (return_sequences) with random "
            "biases (gate order visible) + Dense",
    "functional": "Functional, 2 inputs (`a`, `b`), 2 outputs (`out`, `aux`), Add + Concatenate",
    "scale_shift": "custom layer with its own trainable weights "
                   "(`workbench_samples>ScaleShift`: gamma, beta)",
    "nested": "Functional with nested Sequential (`encoder`), shared Dense (`shared`, "
              "2 calls), Bidirectional(LSTM), TimeDistributed(Dense), Concatenate",
}


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
def seed_everything(keras, tf_keras, offset: int = 0) -> None:
    keras.utils.set_random_seed(SEED + offset)
    tf_keras.utils.set_random_seed(SEED + offset)


def randomize_weights(model, rng: np.random.RandomState) -> None:
    """Make zero/one-initialised weights non-trivial (Keras 3 model, in place).

    Kernels keep their (seeded) initialiser values; biases, BN statistics and
    ScaleShift gamma/beta get random values so that mistakes such as dropped
    biases, wrong gate order or identity BN show up in the outputs.
    """
    for v in model.weights:
        name = v.name.split("/")[-1].split(":")[0]
        shape = tuple(v.shape)
        if name in ("bias", "beta", "moving_mean"):
            value = rng.uniform(-0.5, 0.5, shape)
        elif name in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        else:
            continue
        v.assign(value.astype("float32"))


def copy_weights(src, dst) -> None:
    """Copy weights layer by layer (matched by name) from src to dst."""
    for layer in src.layers:
        weights = layer.get_weights()
        target = dst.get_layer(layer.name)
        if weights or target.get_weights():
            target.set_weights(weights)
    for a, b in zip(src.get_weights(), dst.get_weights()):
        assert a.shape == b.shape and np.array_equal(a, b), "weight copy mismatch"
    assert len(src.get_weights()) == len(dst.get_weights())


def make_inputs(stem: str, rng: np.random.RandomState) -> dict[str, np.ndarray]:
    out = {}
    for name, shape, dtype, high in INPUTS[stem]:
        if high is None:
            out[name] = rng.standard_normal((BATCH, *shape)).astype(dtype)
        else:
            out[name] = rng.randint(0, high, size=(BATCH, *shape)).astype(dtype)
    return out


def run(model, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Forward pass (inference mode); inputs in model input order; list out."""
    arrays = list(inputs.values())
    y = model(arrays[0] if len(arrays) == 1 else arrays, training=False)
    if not isinstance(y, (list, tuple)):
        y = [y]
    return [np.asarray(t) for t in y]


def output_names(model) -> list[str]:
    return [t._keras_history[0].name for t in model.outputs]


def input_names(model) -> list[str]:
    return [t._keras_history[0].name for t in model.inputs]


def check(label: str, got: list[np.ndarray], want: list[np.ndarray]) -> None:
    assert len(got) == len(want), f"{label}: {len(got)} outputs, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"{label}: output {i} shape {g.shape} != {w.shape}"
        err = float(np.max(np.abs(g.astype("float64") - w.astype("float64"))))
        if not err <= ATOL:
            raise AssertionError(f"{label}: output {i} differs by {err:.3g} > {ATOL}")
    print(f"  verified {label}")


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------
def generate_model(stem, index, out, keras, tf_keras, cl) -> dict:
    print(f"[{stem}]")
    seed_everything(keras, tf_keras, index)
    rng = np.random.RandomState(SEED + index)
    builder = BUILDERS[stem]

    m3 = builder(keras, cl.CUSTOM_OBJECTS)
    randomize_weights(m3, rng)
    m2 = builder(tf_keras, cl.CUSTOM_OBJECTS_KERAS2)
    copy_weights(m3, m2)

    inputs = make_inputs(stem, rng)
    assert input_names(m3) == list(inputs) == input_names(m2), (input_names(m3), list(inputs))
    outs = run(m3, inputs)
    onames = output_names(m3)
    assert onames == output_names(m2), (onames, output_names(m2))
    check(f"{stem} tf_keras in-memory copy", run(m2, inputs), outs)

    files = {
        "keras": out / f"{stem}.keras",
        "h5": out / f"{stem}.h5",
        "keras2": out / f"{stem}_keras2.h5",
        "io": out / f"{stem}_io.npz",
    }
    for p in files.values():
        if p.exists():
            p.unlink()
    m3.save(files["keras"])
    m3.save(files["h5"])
    m2.save(files["keras2"], save_format="h5")
    io = {f"input:{k}": v for k, v in inputs.items()}
    io.update({f"output:{k}": v for k, v in zip(onames, outs)})
    np.savez(files["io"], **io)

    # --- verify by reloading from disk --------------------------------------
    stored = np.load(files["io"])
    want = [stored[f"output:{k}"] for k in onames]
    loaded_inputs = {k.split(":", 1)[1]: stored[k] for k in stored.files if k.startswith("input:")}
    co3, co2 = cl.CUSTOM_OBJECTS, cl.CUSTOM_OBJECTS_KERAS2
    check(f"{stem}.keras (Keras 3)",
          run(keras.models.load_model(files["keras"], custom_objects=co3, compile=False),
              loaded_inputs), want)
    check(f"{stem}.h5 (Keras 3)",
          run(keras.models.load_model(files["h5"], custom_objects=co3, compile=False),
              loaded_inputs), want)
    check(f"{stem}_keras2.h5 (tf_keras)",
          run(tf_keras.models.load_model(files["keras2"], custom_objects=co2, compile=False),
              loaded_inputs), want)

    extra = []
    if stem == "seed":
        extra = write_seed_json(m3, m2, out, keras, tf_keras, cl, loaded_inputs, want)
    return {"stem": stem, "params": int(m3.count_params()), "files": files, "extra": extra}


def write_seed_json(m3, m2, out, keras, tf_keras, cl, inputs, want) -> list[Path]:
    """seed.json + seed.weights.h5 (Keras 3), seed_keras2.json + seed_keras2_weights.h5."""
    j3, w3 = out / "seed.json", out / "seed.weights.h5"
    j2, w2 = out / "seed_keras2.json", out / "seed_keras2_weights.h5"
    for p in (j3, w3, j2, w2):
        if p.exists():
            p.unlink()
    j3.write_text(m3.to_json(indent=2) + "\n")
    m3.save_weights(w3)
    j2.write_text(m2.to_json(indent=2) + "\n")
    m2.save_weights(w2, save_format="h5")

    r3 = keras.models.model_from_json(j3.read_text(), custom_objects=cl.CUSTOM_OBJECTS)
    r3.load_weights(w3)
    check("seed.json + seed.weights.h5 (Keras 3)", run(r3, inputs), want)
    r2 = tf_keras.models.model_from_json(j2.read_text(),
                                         custom_objects=cl.CUSTOM_OBJECTS_KERAS2)
    r2.load_weights(w2)
    check("seed_keras2.json + seed_keras2_weights.h5 (tf_keras)", run(r2, inputs), want)
    return [j3, w3, j2, w2]


# Source of the Lambda's function.  Compiled from a string with a fixed
# pseudo-filename so the marshalled bytecode carries no local paths.
LAMBDA_SOURCE = "lambda x: x * 2.0"


def generate_lambda(index, out, keras, tf_keras) -> dict:
    print("[lambda_bytecode]")
    seed_everything(keras, tf_keras, index)
    rng = np.random.RandomState(SEED + index)

    def build(K):
        fn = eval(compile(LAMBDA_SOURCE, "<workbench_samples>", "eval"))  # noqa: S307
        return K.Sequential(
            [
                K.Input(shape=(4,), name="input"),
                K.layers.Lambda(fn, name="lambda"),
                K.layers.Dense(2, name="dense"),
            ],
            name="lambda_bytecode",
        )

    m2 = build(tf_keras)
    for v in m2.weights:
        if v.name.split("/")[-1].startswith("bias"):
            v.assign(rng.uniform(-0.5, 0.5, tuple(v.shape)).astype("float32"))
    k2 = out / "lambda_bytecode_keras2.h5"
    k3 = out / "lambda_bytecode.h5"
    for p in (k2, k3):
        if p.exists():
            p.unlink()
    m2.save(k2, save_format="h5")
    files = {"keras2": k2}
    # Keras 3 may or may not agree to write a Lambda to legacy .h5: don't fight it.
    try:
        m3 = build(keras)
        copy_weights(m2, m3)
        m3.save(k3)
        files["h5"] = k3
    except Exception as exc:  # pragma: no cover - depends on the Keras version
        print(f"  Keras 3 could not write {k3.name}: {exc!r}")
        if k3.exists():
            k3.unlink()
    # Never reloaded here: loading it would execute the stored bytecode.
    return {"stem": "lambda_bytecode", "params": int(m2.count_params()), "files": files,
            "extra": []}


def human(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} B"


def write_readme(out: Path, results: list[dict], kv3: str, kv2: str) -> None:
    rows = []
    v3, v2 = f"Keras {kv3}", f"tf_keras {kv2} (Keras 2)"
    for r in results:
        stem, p, f = r["stem"], r["params"], r["files"]
        if stem == "lambda_bytecode":
            desc = ("BAD INPUT fixture: Lambda(`x * 2.0`) whose function is stored as "
                    "marshalled Python bytecode — must be reported, never executed")
            rows.append((f["keras2"].name, v2, desc, p))
            if "h5" in f:
                rows.append((f["h5"].name, f"{v3} (legacy h5)", desc, p))
            continue
        desc = DESCRIPTIONS[stem]
        rows.append((f["keras"].name, f"{v3} (.keras zip)", desc, p))
        rows.append((f["h5"].name, f"{v3} (legacy h5)", desc, p))
        rows.append((f["keras2"].name, v2, desc, p))
        if stem == "seed":
            rows.append(("seed.json + seed.weights.h5", v3,
                         "architecture JSON (`to_json`) + weights-only (`save_weights`, "
                         "`layers/<name>/vars/N` layout)", p))
            rows.append(("seed_keras2.json + seed_keras2_weights.h5", v2,
                         "architecture JSON (`to_json`) + weights-only (`save_weights`, "
                         "legacy h5 layout)", p))
        names = ", ".join(f"`{k}`" for k in np.load(f["io"]).files)
        rows.append((f["io"].name, "-", f"fixed batch of {BATCH} inputs and the Keras 3 "
                     f"outputs: {names}", "-"))

    lines = [
        "# Sample Keras models",
        "",
        "Generated by `python sample_models/generate.py` (deterministic: fixed seeds, CPU, "
        "no downloads; `--out DIR` writes elsewhere). Do not edit by hand.",
        "Custom classes live in `custom_layers.py` (pass it as "
        "`--custom-objects sample_models/custom_layers.py`); it exposes `CUSTOM_OBJECTS` "
        "(Keras 3) and `CUSTOM_OBJECTS_KERAS2` (tf_keras).",
        "All formats of one model hold identical weight values; `<stem>_io.npz` holds "
        "`input:<input layer>` and `output:<output layer>` arrays, reproduced by every "
        "format within 1e-6.",
        "",
        "| file | Keras version | what it demonstrates | parameters |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{a}` | {b} | {c} | {d} |" for a, b, c, d in rows]
    (out / "README.md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE,
                        help="output directory (default: the sample_models/ directory)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")
    tf.config.experimental.enable_op_determinism()
    import keras
    import tf_keras

    cl = load_custom_layers()
    results = [generate_model(stem, i, out, keras, tf_keras, cl) for i, stem in enumerate(STEMS)]
    results.append(generate_lambda(len(STEMS), out, keras, tf_keras))
    write_readme(out, results, keras.__version__, tf_keras.__version__)

    total = 0
    for r in results:
        for p in [*r["files"].values(), *r["extra"]]:
            total += p.stat().st_size
    print(f"done: {out} ({human(total)} of model files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
