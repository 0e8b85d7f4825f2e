"""Java source of the whole model: generated, compiled against DL4J 1.0.0-M2.1, built from its .npy
parameters in real DL4J and compared with the exported zip run in real DL4J, activation by activation
(and the final outputs with Keras's); its configuration compared with the zip's, property by property.

Every compile and JVM run is batched: one javac and one JVM per group of models.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from workbench.check.dl4j_jvm import DL4JJob, harness_classpath, run_java_source, run_jobs
from workbench.check.verify import dl4j_inputs
from workbench.convert import Conversion, call_key
from workbench.errors import ExportError
from workbench.export.dl4j_config import flat_params
from workbench.export.java_source import compile_java, model_java_source, param_files, write_java_project
from workbench.export.model_zip import read_model_zip
from workbench.session import Session

pytestmark = pytest.mark.dl4j

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_models"
SAMPLE_STEMS = ("cnn", "lstm", "functional", "nested")
SAMPLE_FILES = [f"{stem}{suffix}" for stem in SAMPLE_STEMS for suffix in (".keras", "_keras2.h5")]
FORMATS = ("NHWC", "NCHW")
SAMPLE_IDS = [f"{f}-{fmt}" for f in SAMPLE_FILES for fmt in FORMATS]
CLASS = "ConvertedModel"


@dataclass
class Case:
    id: str
    conv: Conversion
    project: Path
    zip: Path
    inputs: dict[str, np.ndarray]  # DL4J layouts
    package: str

    @property
    def class_name(self) -> str:
        return f"{self.package}.{CLASS}"


def _package(case_id: str) -> str:
    return "gen." + "".join(c if c.isalnum() else "_" for c in case_id.lower())


def _case(case_id: str, session: Session, keras_inputs: dict[str, np.ndarray], folder: Path) -> Case:
    conv = session.conversion
    package = _package(case_id)
    project = write_java_project(conv, folder / case_id, class_name=CLASS, package=package)
    zip_path = session.export_zip(folder / f"{case_id}.zip")
    return Case(case_id, conv, project, zip_path, dl4j_inputs(conv, keras_inputs), package)


def _run_all(cases: list[Case], folder: Path, extra_jobs: list[DL4JJob] = ()) -> tuple[Path, dict, list]:
    """One javac for every project, one JVM for every zip run and source run."""
    classes = compile_java(folder, folder / "classes")
    jobs = []
    for case in cases:
        jobs.append(DL4JJob(case.zip, case.inputs))
        jobs.append(DL4JJob(case.project / "params", case.inputs, mode="run-source", class_name=case.class_name,
                            classes=classes))
    runs = run_jobs([*jobs, *extra_jobs])
    by_id = {case.id: (case, runs[2 * i], runs[2 * i + 1]) for i, case in enumerate(cases)}
    return classes, by_id, runs[2 * len(cases):]


# Known, harmless differences between the configuration DL4J builds from the generated builders and the
# one it reads from the exported JSON (each a DL4J builder behaviour, documented in java_source.py).
def _config_differences(zip_conf: dict, src_conf: dict) -> list[str]:
    def layers(conf: dict) -> dict[str, dict]:
        if "confs" in conf:
            return {str(i): c for i, c in enumerate(conf["confs"])}
        return {k: v for k, v in conf["vertices"].items()}

    def diff(a, b, path: str) -> list[str]:
        if isinstance(a, dict) and isinstance(b, dict):
            out = []
            for k in sorted(set(a) | set(b)):
                if k not in a or k not in b:
                    out.append(f"{path}.{k}: {a.get(k, '(absent)')!r} vs {b.get(k, '(absent)')!r}")
                else:
                    out += diff(a[k], b[k], f"{path}.{k}")
            return out
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            return [line for i, (x, y) in enumerate(zip(a, b)) for line in diff(x, y, f"{path}[{i}]")]
        return [] if a == b else [f"{path}: {a!r} vs {b!r}"]

    za, sa = layers(zip_conf), layers(src_conf)
    out = [] if set(za) == set(sa) else [f"vertices {sorted(za)} vs {sorted(sa)}"]
    for name in set(za) & set(sa):
        z, s = json.loads(json.dumps(za[name])), json.loads(json.dumps(sa[name]))
        zl = (z.get("layerConf") or z).get("layer") or {}
        sl = (s.get("layerConf") or s).get("layer") or {}
        cls = str(zl.get("@class", z.get("@class", ""))).rsplit(".", 1)[-1]
        if cls == "MergeVertex":
            s.pop("modified", None), z.pop("modified", None)  # MergeVertex.setMergeAxis sets modified=true
        if cls == "PReLULayer":
            for key in ("nin", "nout"):  # PReLULayer.Builder ignores nIn/nOut (its size is inputShape)
                zl.pop(key, None), sl.pop(key, None)
        if cls in ("LastTimeStep", "TimeDistributed"):
            # a wrapper's NeuralNetConfiguration lists no variables when built (the JSON's list is kept on load)
            (z.get("layerConf") or z).pop("variables", None), (s.get("layerConf") or s).pop("variables", None)
        out += diff(z, s, name)
    for key in sorted((set(zip_conf) | set(src_conf)) - {"confs", "vertices", "topologicalOrder",
                                                         "topologicalOrderStr"}):
        out += diff(zip_conf.get(key), src_conf.get(key), key)
    return out


def _check_same_as_zip(case: Case, zip_run, src_run) -> None:
    assert zip_run.error is None, zip_run.error
    assert src_run.error is None, src_run.error
    assert set(src_run.outputs) == set(zip_run.outputs)
    for name, expected in zip_run.outputs.items():
        got = src_run.outputs[name]
        assert got.shape == expected.shape, (name, got.shape, expected.shape)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=f"{case.id}: '{name}'")
    differences = _config_differences(json.loads(zip_run.configuration), json.loads(src_run.configuration))
    assert not differences, "\n".join(differences)


# ----------------------------------------------------------------------------------------- sample models


@pytest.fixture(scope="module")
def sample_runs(dl4j_ready, tmp_path_factory):
    folder = tmp_path_factory.mktemp("java-samples")
    cases = []
    for file in SAMPLE_FILES:
        stem = file.split(".")[0].removesuffix("_keras2")
        io = np.load(SAMPLES / f"{stem}_io.npz")
        keras_inputs = {k.split(":", 1)[1]: io[k] for k in io.files if k.startswith("input:")}
        for fmt in FORMATS:
            cases.append(_case(f"{file}-{fmt}", Session(SAMPLES / file, cnn_format=fmt), keras_inputs, folder))
    # a parameter file missing: build() names it
    broken = cases[0]
    missing = folder / "missing_params"
    shutil.copytree(broken.project / "params", missing)
    victim = param_files(broken.conv)[0]
    (missing / victim.file).unlink()
    extra = [DL4JJob(missing, broken.inputs, mode="run-source", class_name=broken.class_name,
                     classes=folder / "classes")]
    classes, by_id, extra_runs = _run_all(cases, folder, extra)
    return {"classes": classes, "runs": by_id, "missing": (victim, extra_runs[0])}


@pytest.mark.parametrize("case_id", SAMPLE_IDS)
def test_sample_model_source_equals_zip_and_keras(sample_runs, case_id):
    """Built from source, every activation equals the zip's in real DL4J (1e-6), the outputs Keras's (1e-5)."""
    case, zip_run, src_run = sample_runs["runs"][case_id]
    _check_same_as_zip(case, zip_run, src_run)
    stem = case_id.split(".")[0].split("-")[0].removesuffix("_keras2")
    io = np.load(SAMPLES / f"{stem}_io.npz")
    nodes = {n.name: n for n in case.conv.nodes}
    for ref in case.conv.model.outputs:
        dl4j_name = case.conv.aliases[call_key(ref.layer, ref.node_index)]
        got = nodes[dl4j_name].mapped.output.to_keras(src_run.outputs[dl4j_name])
        np.testing.assert_allclose(got, io[f"output:{ref.layer}"], rtol=0, atol=1e-5, err_msg=f"{case_id}: {ref.layer}")


def test_missing_parameter_file_is_named(sample_runs):
    victim, run = sample_runs["missing"]
    assert run.error is not None and "FileNotFoundException" in run.error, run.error
    assert victim.file in run.error and f"'{victim.key}'" in run.error and f"'{victim.layer}'" in run.error


def test_wrong_parameter_shape_fails_with_a_clear_message(sample_runs, tmp_path):
    """run_java_source (class on the class path): a transposed .npy makes build() name file and both shapes."""
    case = next(c for c, _, _ in sample_runs["runs"].values() if c.id == "functional.keras-NHWC")
    params = tmp_path / "params"
    shutil.copytree(case.project / "params", params)
    pf = next(p for p in param_files(case.conv) if p.value.ndim == 2 and p.value.shape[0] != p.value.shape[1])
    np.save(params / pf.file, np.ascontiguousarray(pf.value.T))
    run = run_java_source(case.class_name, sample_runs["classes"], params, case.inputs)
    assert run.error is not None, "build() accepted a parameter of the wrong shape"
    rows, cols = pf.value.shape
    assert run.error.startswith("java.lang.IllegalArgumentException"), run.error
    assert pf.file in run.error and f"'{pf.key}' of layer '{pf.layer}'" in run.error, run.error
    assert f"expects shape [{rows}, {cols}], received [{cols}, {rows}]" in run.error, run.error
    # and the untouched folder builds and runs the same network through run_java_source too
    ok = run_java_source(case.class_name, sample_runs["classes"], case.project / "params", case.inputs)
    _check_same_as_zip(case, sample_runs["runs"][case.id][1], ok)


def test_main_regenerates_the_zip(sample_runs, tmp_path):
    """``main(PARAM_DIR, OUT.zip)`` writes a ModelSerializer zip holding exactly the exported parameters."""
    case = sample_runs["runs"]["cnn.keras-NCHW"][0]
    out = tmp_path / "regenerated.zip"
    cmd = [shutil.which("java") or "java", "-cp", harness_classpath([sample_runs["classes"]]), case.class_name,
           str(case.project / "params"), str(out)]
    proc = subprocess.run(cmd, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    zipped = read_model_zip(out)
    assert zipped.kind == "MultiLayerNetwork"
    np.testing.assert_array_equal(zipped.params.ravel(), flat_params(case.conv))


# ----------------------------------------------------------------------------------------- every layer class


def _randomize(model, seed: int = 0):
    r = np.random.default_rng(seed)
    for w in model.weights:
        v = (r.standard_normal(tuple(w.shape)) * 0.4).astype("float32")
        if "variance" in w.path:
            v = np.abs(v) + 0.5
        w.assign(v)
    return model


def _image(k, fmt):
    L = k.layers
    x = k.Input((8, 8, 3), name="img")
    c = L.Conv2D(4, 3, padding="same", activation="relu", name="conv")(x)
    c = L.Conv2D(4, 3, padding="same", dilation_rate=2, use_bias=False, name="conv_dilated")(c)
    b = L.BatchNormalization(epsilon=1e-3, name="bn")(c)
    d = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(b)
    s = L.SeparableConv2D(4, 3, padding="valid", depth_multiplier=2, name="sep")(d)
    t = L.Conv2DTranspose(3, 2, strides=2, padding="same", activation="tanh", name="deconv")(s)
    m = L.MaxPooling2D(2, name="maxpool")(t)
    a = L.AveragePooling2D(3, strides=1, padding="same", name="avgpool")(m)
    z = L.ZeroPadding2D(((1, 0), (2, 1)), name="zpad")(a)
    cr = L.Cropping2D(((1, 0), (0, 1)), name="crop")(z)
    u = L.UpSampling2D((2, 1), name="up")(cr)
    p = L.PReLU(shared_axes=[1, 2], name="prelu")(u)
    r6 = L.ReLU(max_value=6.0, name="relu6")(p)
    lr = L.LeakyReLU(negative_slope=0.2, name="lrelu")(r6)
    el = L.ELU(alpha=0.7, name="elu")(lr)
    ac = L.Activation("tanh", name="act")(el)
    dn = L.Dense(5, activation="sigmoid", name="dense_px")(ac)
    shared = L.Activation("relu", name="act_shared")(dn)  # dn has other readers: an input copy is added
    add = L.Add(name="add")([dn, shared])
    mul = L.Multiply(name="mul")([add, dn])
    mx = L.Maximum(name="max")([mul, dn])
    av = L.Average(name="avg")([mx, dn])
    sub = L.Subtract(name="sub")([av, dn])
    cat = L.Concatenate(name="cat")([sub, dn])
    sc = L.Rescaling(0.5, name="scale")(cat)
    sh = L.Rescaling(1.0, offset=0.25, name="shift")(sc)
    nm = L.Normalization(mean=0.1, variance=2.0, name="norm")(sh)
    dr = L.Dropout(0.3, name="drop")(nm)
    gn = L.GaussianNoise(0.1, name="noise")(dr)
    outs = [L.GlobalAveragePooling2D(name="gap")(gn), L.GlobalMaxPooling2D(name="gmp")(gn)]
    pm = L.Permute((2, 1, 3), name="perm")(gn)
    outs.append(L.Dense(6, activation="relu", name="fc")(L.Flatten(name="flat")(pm)))
    if fmt == "NHWC":  # a Reshape mixing channels is exact only in NHWC
        outs.append(L.GlobalAveragePooling2D(name="gap_rs")(L.Reshape((24, 4, 10), name="reshape")(gn)))
    return k.Model(x, outs), {"img": (8, 8, 3)}


def _sequence(k, fmt):
    L = k.layers
    x = k.Input((10, 4), name="seq")
    c = L.Conv1D(5, 3, padding="causal", activation="relu", name="conv1d")(x)
    m = L.MaxPooling1D(2, name="maxpool1d")(c)
    a = L.AveragePooling1D(2, strides=1, padding="same", name="avgpool1d")(m)
    outs = [L.GlobalAveragePooling1D(name="gap1d")(a), L.GlobalMaxPooling1D(name="gmp1d")(a)]
    l1 = L.LSTM(3, return_sequences=True, use_bias=False, name="lstm_seq")(x)
    outs.append(L.SimpleRNN(2, name="rnn_last")(l1))
    b1 = L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="concat", name="bi_lstm")(x)
    outs.append(L.Bidirectional(L.SimpleRNN(2), merge_mode="sum", name="bi_rnn")(b1))
    td = L.TimeDistributed(L.Dense(3, activation="tanh"), name="td")(b1)
    outs.append(L.Flatten(name="flat_seq")(L.Dense(2, name="dense_seq")(td)))
    if fmt == "NHWC":  # BatchNormalization on a sequence is exact in NWC only
        outs.append(L.BatchNormalization(name="bn_seq")(l1))
    else:  # the 1-D padding layers exist for NCW only
        z = L.ZeroPadding1D((1, 2), name="zpad1d")(c)
        outs.append(L.UpSampling1D(2, name="up1d")(L.Cropping1D((2, 1), name="crop1d")(z)))
    return k.Model(x, outs), {"seq": (10, 4)}


def _volume(k, fmt):
    L = k.layers
    x = k.Input((4, 6, 6, 2), name="vol")
    c = L.Conv3D(3, 2, padding="same", activation="relu", name="conv3d")(x)
    t = L.Conv3DTranspose(2, 2, strides=2, padding="valid", name="deconv3d")(c)
    m = L.MaxPooling3D(2, name="maxpool3d")(t)
    a = L.AveragePooling3D(2, strides=1, padding="same", name="avgpool3d")(m)
    u = L.UpSampling3D((1, 2, 1), name="up3d")(a)
    outs = [L.GlobalMaxPooling3D(name="gmp3d")(u), L.GlobalAveragePooling3D(name="gap3d")(u)]
    if fmt == "NCHW":  # ZeroPadding3D / Cropping3D exist for NCDHW only
        z = L.ZeroPadding3D(((1, 0), (0, 1), (1, 1)), name="zpad3d")(c)
        outs.append(L.Cropping3D(((0, 1), (1, 0), (1, 1)), name="crop3d")(z))
    return k.Model(x, outs), {"vol": (4, 6, 6, 2)}


def _dense_first_chain(k, fmt):
    """Sequential with a Dense first layer: MultiLayerConfiguration.Builder would guess an input type."""
    L = k.layers
    return k.Sequential([k.Input((6,), name="feat"), L.Dense(5, activation="relu", name="d1"),
                         L.RepeatVector(3, name="rep"), L.LSTM(4, name="lstm"), L.Dense(3, use_bias=False, name="d2"),
                         L.Softmax(name="softmax")]), {"feat": (6,)}


def _recurrent_first_chain(k, fmt):
    L = k.layers
    return k.Sequential([k.Input((7, 3), name="steps"), L.SimpleRNN(4, return_sequences=True, name="rnn"),
                         L.Conv1D(3, 2, name="c1"), L.Dense(2, name="d_t"), L.GlobalMaxPooling1D(name="gmp"),
                         L.Dense(2, activation="softmax", name="out")]), {"steps": (7, 3)}


def _cnn_chain(k, fmt):
    L = k.layers
    return k.Sequential([k.Input((6, 6, 2), name="pix"), L.Conv2D(3, 3, use_bias=False, name="c"),
                         L.BatchNormalization(name="bn"), L.PReLU(name="prelu"), L.Flatten(name="f"),
                         L.Dense(4, name="d"), L.Dropout(0.5, name="drop"), L.Activation("softmax", name="sm")]), \
        {"pix": (6, 6, 2)}


def _embedding_chain(k, fmt):
    L = k.layers
    return k.Sequential([k.Input((5,), dtype="int32", name="ids"), L.Embedding(11, 4, name="emb"),
                         L.Bidirectional(L.LSTM(3), name="bi"), L.Dense(2, name="d")]), {"ids": (5,)}


COVERAGE = {"image": _image, "sequence": _sequence, "volume": _volume, "dense_first": _dense_first_chain,
            "recurrent_first": _recurrent_first_chain, "cnn_chain": _cnn_chain, "embedding": _embedding_chain}
COVERAGE_IDS = [f"{name}-{fmt}" for name in COVERAGE for fmt in FORMATS]


@pytest.fixture(scope="module")
def coverage_runs(dl4j_ready, tmp_path_factory):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras", reason="TensorFlow/Keras builds the models that use every layer class")
    folder = tmp_path_factory.mktemp("java-coverage")
    rng = np.random.default_rng(1)
    cases = []
    for case_id in COVERAGE_IDS:
        name, fmt = case_id.rsplit("-", 1)
        model, shapes = COVERAGE[name](keras, fmt)
        path = folder / f"{case_id}.keras"
        _randomize(model).save(path)
        inputs = {n: (rng.integers(0, 11, size=(2, *s)) if n == "ids" else rng.standard_normal((2, *s)))
                  .astype("float32") for n, s in shapes.items()}
        cases.append(_case(case_id, Session(path, cnn_format=fmt), inputs, folder))
    return _run_all(cases, folder)[1]


@pytest.mark.tensorflow
def test_coverage_models_use_every_layer_class(coverage_runs):
    """The coverage models hold every DL4J layer, vertex and preprocessor class the mappers emit."""
    seen = set()
    for case, _, _ in coverage_runs.values():
        for node in case.conv.nodes:
            for obj in (node.mapped.layer, node.mapped.vertex, node.mapped.preprocessor,
                        (node.mapped.vertex or {}).get("preProcessor")):
                while isinstance(obj, dict):
                    seen.add(obj["@class"].rsplit(".", 1)[-1])
                    obj = obj.get("underlying") or obj.get("fwd")
    expected = {
        "DenseLayer", "ConvolutionLayer", "Convolution1DLayer", "Convolution3D", "Deconvolution2D", "Deconvolution3D",
        "DepthwiseConvolution2D", "SeparableConvolution2D", "SubsamplingLayer", "Subsampling1DLayer",
        "Subsampling3DLayer", "GlobalPoolingLayer", "ZeroPaddingLayer", "ZeroPadding1DLayer", "ZeroPadding3DLayer",
        "Cropping1D", "Cropping2D", "Cropping3D", "Upsampling1D", "Upsampling2D", "Upsampling3D", "BatchNormalization",
        "EmbeddingSequenceLayer", "LSTM", "SimpleRnn", "LastTimeStep", "Bidirectional", "TimeDistributed",
        "ActivationLayer", "DropoutLayer", "PReLULayer", "RepeatVector", "ElementWiseVertex", "MergeVertex",
        "ReshapeVertex", "ScaleVertex", "ShiftVertex", "PreprocessorVertex", "PermutePreprocessor",
        "CnnToFeedForwardPreProcessor"}
    assert expected <= seen, sorted(expected - seen)


@pytest.mark.tensorflow
@pytest.mark.parametrize("case_id", COVERAGE_IDS)
def test_every_layer_class_source_equals_zip(coverage_runs, case_id):
    case, zip_run, src_run = coverage_runs[case_id]
    _check_same_as_zip(case, zip_run, src_run)


# ----------------------------------------------------------------------------------------- refusals, files


@pytest.fixture(scope="module")
def functional() -> Conversion:
    return Session(SAMPLES / "functional.keras").conversion


def _with_layer(conv: Conversion, name: str, **changes) -> Conversion:
    nodes = tuple(replace(n, mapped=replace(n.mapped, **changes)) if n.name == name else n for n in conv.nodes)
    return replace(conv, nodes=nodes)


def test_unknown_layer_class_is_an_export_error(functional):
    conv = _with_layer(functional, "da", layer={"@class": "org.deeplearning4j.nn.conf.layers.LocallyConnected1D",
                                                "layerName": "da"})
    with pytest.raises(ExportError) as info:
        model_java_source(conv)
    assert info.value.layer == "da" and "LocallyConnected1D" in str(info.value), str(info.value)


def test_unknown_vertex_preprocessor_and_property_are_export_errors(functional):
    vertex = _with_layer(functional, "add", vertex={"@class": "org.deeplearning4j.nn.conf.graph.L2Vertex"})
    with pytest.raises(ExportError, match="L2Vertex"):
        model_java_source(vertex)
    pre = _with_layer(functional, "da", preprocessor={"@class": "org.deeplearning4j.nn.conf.preprocessor."
                                                                "RnnToFeedForwardPreProcessor"})
    with pytest.raises(ExportError, match="RnnToFeedForwardPreProcessor"):
        model_java_source(pre)
    da = next(n for n in functional.nodes if n.name == "da").mapped.layer
    noisy = _with_layer(functional, "da", layer={**da, "weightNoise": {"@class": "org.deeplearning4j.nn.conf."
                                                                       "weightnoise.DropConnect"}})
    with pytest.raises(ExportError, match="weightNoise") as info:
        model_java_source(noisy)
    assert info.value.layer == "da"


def test_generated_layer_class_is_built_by_setters(functional):
    """A ``workbench.generated`` layer: no-arg constructor, one setter per JSON property (compiled only
    where such classes exist; here the text is checked)."""
    layer = {"@class": "workbench.generated.ScaleShift", "layerName": "da", "nin": 6, "nout": 4, "alpha": 0.5,
             "axes": [1, 2], "activationFn": {"@class": "org.nd4j.linalg.activations.impl.ActivationTanH"},
             "iupdater": {"@class": "org.nd4j.linalg.learning.config.NoOp"}, "idropout": None}
    source = model_java_source(_with_layer(functional, "da", layer=layer))
    assert "workbench.generated.ScaleShift da = new workbench.generated.ScaleShift();" in source
    for call in ('da.setLayerName("da");', "da.setNIn(6);", "da.setNOut(4);", "da.setAlpha(0.5);",
                 "da.setAxes(new int[] {1, 2});", "da.setActivationFn(new ActivationTanH());"):
        assert call in source, call
    assert "setIupdater" not in source and "setIdropout" not in source  # defaults come from the global config


def test_source_is_readable_and_explicit(functional, samples):
    conv = Session(samples / "cnn.keras", cnn_format="NCHW").conversion
    source = model_java_source(conv, class_name="CnnPort", package="")
    assert source.isascii() and "package " not in source and "public final class CnnPort" in source
    assert "ComposableInputPreProcessor" not in source  # a convolution first: DL4J guesses nothing
    for text in ("public static MultiLayerConfiguration configuration()",
                 "public static MultiLayerNetwork build(Path paramDir)", "public static void main(String[] args)",
                 ".useLogStd(false)", ".dataFormat(CNN2DFormat.NCHW)", ".convolutionMode(ConvolutionMode.Same)",
                 ".eps(0.001)", "list.inputPreProcessor(4, new CnnToFeedForwardPreProcessor(",
                 "// 'conv2d': Keras Conv2D 'conv2d' -> ConvolutionLayer",
                 "W [4, 3, 3, 3] <- Keras 'kernel' [3, 3, 3, 4], then conv_kernel_to_oihw",
                 'load(net.getLayer("dense"), "dense", "W", paramDir.resolve("dense__W.npy"));'):
        assert text in source, text
    graph = model_java_source(functional)
    for text in ("public static ComputationGraphConfiguration configuration()", '.addInputs("a", "b")',
                 'graph.addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "da", "db");',
                 'graph.setOutputs("out", "aux");'):
        assert text in graph, text
    with pytest.raises(ExportError):
        model_java_source(conv, class_name="class")


def test_write_java_project_replaces_a_folder_atomically(functional, tmp_path):
    target = tmp_path / "java"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    assert write_java_project(functional, target) == target
    assert not (target / "stale.txt").exists()
    assert (target / "src/main/java/workbench/generated/ConvertedModel.java").is_file()
    assert "1.0.0-M2.1" in (target / "README.md").read_text()
    files = param_files(functional)
    assert sorted(p.name for p in (target / "params").iterdir()) == sorted(f.file for f in files)
    for pf in files:
        saved = np.load(target / "params" / pf.file)
        assert saved.dtype == np.float32 and saved.shape == pf.value.shape
        np.testing.assert_array_equal(saved, pf.value)
    assert [p.name for p in tmp_path.iterdir()] == ["java"]  # no temporary folders left behind
    broken = _with_layer(functional, "da", layer={"@class": "org.example.Unknown", "layerName": "da"})
    with pytest.raises(ExportError):
        write_java_project(broken, target)
    assert (target / "README.md").is_file() and [p.name for p in tmp_path.iterdir()] == ["java"]


def test_param_files_hold_dl4j_views_of_the_flat_vector(samples):
    """Concatenated in DL4J's view orders, the .npy arrays are exactly the zip's flat parameter vector."""
    from workbench.check.reference import layer_param_specs

    for file in ("cnn.keras", "lstm.keras", "nested.keras"):
        conv = Session(samples / file, cnn_format="NCHW").conversion
        layers = {n.name: n.mapped.layer for n in conv.nodes}
        pieces = []
        for pf in param_files(conv):
            spec = next(s for s in layer_param_specs(layers[pf.layer]) if s.key == pf.key)
            assert pf.value.shape == tuple(spec.shape)
            pieces.append(pf.value.ravel(order=spec.order.upper()))
        np.testing.assert_array_equal(np.concatenate(pieces), flat_params(conv))


def test_javac_errors_are_export_errors(dl4j_ready, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "Broken.java").write_text("public class Broken { int x = ; }\n")
    with pytest.raises(ExportError, match="javac") as info:
        compile_java(src, tmp_path / "classes")
    assert "Broken.java" in str(info.value) and "error" in str(info.value)
    with pytest.raises(ExportError, match="no Java sources"):
        compile_java(tmp_path / "classes", tmp_path / "out")
