"""Java source for the DL4J layer an expression mapping generates, and its compilation into a jar.

One class per mapped Keras class, in package ``workbench.generated`` (``MyActivation`` →
``workbench.generated.MyActivationLayer``):

* no weights: a ``SameDiffLambdaLayer`` subclass (``defineLayer(sd, x)``);
* weights: a ``SameDiffLayer`` subclass whose ``defineParameters`` declares the Keras weights by
  their Keras names and shapes, in the layer's weight order (``weightNames`` / ``weightShapes``
  properties), every one a weight param (DL4J cuts the flat vector in that order, reshaped 'c');
  ``initializeParameters`` leaves them (the values come from the model zip).

Both compile the expression into SameDiff calls and carry the JSON bean properties ``expression``,
``nin``, ``nout``, ``inputShape``, ``outputShape`` and ``dataFormat`` (plus ``weightNames`` and
``weightShapes``), with a public no-arg constructor for Jackson.

Layouts: the expression is written for Keras's layout (features LAST). DL4J's layout is the same for
feed-forward, NWC and NHWC/NDHWC tensors; for NCW/NCHW/NCDHW inputs the generated ``defineLayer``
permutes the input to channels-last, applies the expression and permutes the result back, so
channels-first networks are supported (the NumPy reference does the same).

NB: M2.1's ``AbstractSameDiffLayer`` keeps a ``layerParams`` property that Jackson writes as two maps
(``weightParams``, ``biasParams``); a JSON writer that sorts keys (ours does, like DL4J's) would
reorder them and with them the flat parameter vector. The generated class therefore hides
``layerParams`` from JSON (``@JsonIgnore``) and always derives it from ``weightNames``/``weightShapes``,
whose JSON arrays keep their order.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from string import Template
from typing import Any

from workbench.custom.expression import Expression
from workbench.errors import ExportError, RuntimeUnavailable

__all__ = ["PACKAGE", "JAR_NAME", "java_class_name", "layer_source", "compile_layers", "layer_sources",
           "export_custom_jar", "write_bundle", "java_string"]

PACKAGE = "workbench.generated"
JAR_NAME = "workbench-custom-layers.jar"
JAVA_RELEASE = "11"
COMPILE_TIMEOUT = 600.0
_RESERVED = {"SameDiffLayer", "SameDiffLambdaLayer", "SDLayerParams", "SDVariable", "SameDiff", "InputType",
             "INDArray", "Nd4j", "JsonIgnore", "Map", "Arrays"}
_CHANNELS_FIRST = ("NCW", "NCHW", "NCDHW")


def java_class_name(keras_class: str) -> str:
    """``MyActivation`` → ``MyActivationLayer``; ``pkg>Name`` → ``NameLayer``; always a safe Java name."""
    base = keras_class.rsplit(">", 1)[-1]
    base = re.sub(r"[^A-Za-z0-9_]", "_", base).strip("_") or "Custom"
    if base[0].isdigit():
        base = "K" + base
    base = base[0].upper() + base[1:]
    name = base if base.endswith("Layer") else base + "Layer"
    return "Keras" + name if name in _RESERVED else name


def java_string(text: str) -> str:
    """A Java string literal holding ``text`` exactly.

    Only printable ASCII is written as is; ``\\``, ``"`` and control characters are escaped, other
    characters become ``\\uXXXX`` escapes (never a line terminator or quote: those are escaped first,
    since javac decodes ``\\u`` escapes before it reads string literals).
    """
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\{code:03o}")
        elif code < 0x7F:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:  # outside the BMP: a surrogate pair
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
    out.append('"')
    return "".join(out)


def _comment(text: str) -> str:
    """Text safe inside a Javadoc comment (no ``*/``, no ``\\u`` escapes javac would decode)."""
    text = text.replace("*/", "* /").replace("\\", "\\\\")
    return "".join(ch if 0x20 <= ord(ch) < 0x7F else "?" for ch in text)


def _java_var(name: str, index: int) -> str:
    return f"w_{name}" if re.fullmatch(r"[A-Za-z0-9_]+", name) else f"w{index}"


_HEADER = Template('''\
package workbench.generated;

import java.util.Arrays;
import java.util.Map;

import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.$base;
$imports
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.factory.Nd4j;

/**
 * DL4J layer for the Keras layer class {@code $keras_class}, mapped by the expression
 * <pre>
 *     $comment
 * </pre>
 * Generated by keras-dl4j-workbench for DL4J 1.0.0-M2.1 (regenerate it from the mapping rather than edit it).
 *
 * <p>The expression reads its input with the features LAST (Keras's layout). DL4J's layout is the same
 * for feed-forward, NWC and NHWC data; for a channels-first input ({@code dataFormat} NCW, NCHW or NCDHW)
 * the input is permuted to channels-last first and the result permuted back.
$params_doc */
public class $name extends $base {
    private static final long serialVersionUID = 1L;

    private String expression = $expression;
    private long nIn;
    private long nOut;
    private long[] inputShape;
    private long[] outputShape;
    private String dataFormat;
$fields
    /** For JSON deserialization: DL4J sets every property through its setter. */
    public $name() {
    }
''')

_LAMBDA_BODY = Template('''
    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable layerInput) {
        SDVariable x = toChannelsLast(sd, layerInput);
$statements
        return toChannelsFirst(sd, out);
    }
''')

_PARAM_BODY = Template('''
    /** The Keras weights, in the layer's weight order: DL4J cuts the flat parameter vector in this order. */
    @Override
    public void defineParameters(SDLayerParams params) {
        if (weightNames.length != weightShapes.length) {
            throw new IllegalStateException(getClass().getSimpleName() + ": " + weightNames.length
                    + " weightNames but " + weightShapes.length + " weightShapes");
        }
        for (int i = 0; i < weightNames.length; i++) {
            params.addWeightParam(weightNames[i], weightShapes[i]);
        }
    }

    /** Nothing to initialise: the values are the Keras weights, read from the model zip. */
    @Override
    public void initializeParameters(Map<String, INDArray> params) {
    }

    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable layerInput, Map<String, SDVariable> paramTable,
                                  SDVariable mask) {
        SDVariable x = toChannelsLast(sd, layerInput);
$weights
$statements
        return toChannelsFirst(sd, out);
    }

    /** Always derived from weightNames/weightShapes, never read from or written to JSON (see class notes). */
    @Override
    @JsonIgnore
    public SDLayerParams getLayerParams() {
        return super.getLayerParams();
    }

    /** Ignored: the parameters are defined by weightNames/weightShapes. */
    @Override
    @JsonIgnore
    public void setLayerParams(SDLayerParams layerParams) {
    }

    private SDVariable param(Map<String, SDVariable> paramTable, String key) {
        SDVariable v = paramTable.get(key);
        if (v == null) {
            throw new IllegalStateException(getClass().getSimpleName() + ": no parameter '" + key
                    + "' (weightNames " + Arrays.toString(weightNames) + ")");
        }
        return v;
    }
''')

_COMMON = Template('''
    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        if (nOut <= 0 || nOut == features(inputType)) {
            return inputType;
        }
        switch (inputType.getType()) {
            case FF:
                return InputType.feedForward(nOut);
            case RNN: {
                InputType.InputTypeRecurrent r = (InputType.InputTypeRecurrent) inputType;
                return InputType.recurrent(nOut, r.getTimeSeriesLength(), r.getFormat());
            }
            case CNN: {
                InputType.InputTypeConvolutional c = (InputType.InputTypeConvolutional) inputType;
                return InputType.convolutional(c.getHeight(), c.getWidth(), nOut, c.getFormat());
            }
            default:
                throw new UnsupportedOperationException(getClass().getSimpleName() + ": no output type for "
                        + inputType + " with nOut " + nOut);
        }
    }

    @Override
    public void setNIn(InputType inputType, boolean override) {
        if (nIn <= 0 || override) {
            nIn = features(inputType);
        }
    }

    private static long features(InputType t) {
        switch (t.getType()) {
            case FF:
                return ((InputType.InputTypeFeedForward) t).getSize();
            case RNN:
                return ((InputType.InputTypeRecurrent) t).getSize();
            case CNN:
                return ((InputType.InputTypeConvolutional) t).getChannels();
            case CNN3D:
                return ((InputType.InputTypeConvolutional3D) t).getChannels();
            case CNNFlat:
                return ((InputType.InputTypeConvolutionalFlat) t).getFlattenedSize();
            default:
                return -1;
        }
    }

    /** 3, 4 or 5 for a channels-first input (NCW, NCHW, NCDHW), 0 when the features are already last. */
    private int channelsFirstRank() {
        if ("NCW".equals(dataFormat)) {
            return 3;
        }
        if ("NCHW".equals(dataFormat)) {
            return 4;
        }
        if ("NCDHW".equals(dataFormat)) {
            return 5;
        }
        return 0;
    }

    private SDVariable toChannelsLast(SameDiff sd, SDVariable v) {
        int rank = channelsFirstRank();
        if (rank == 0) {
            return v;
        }
        int[] order = new int[rank];
        for (int i = 1; i < rank - 1; i++) {
            order[i] = i + 1;
        }
        order[rank - 1] = 1;
        return sd.permute(v, order);
    }

    private SDVariable toChannelsFirst(SameDiff sd, SDVariable v) {
        int rank = channelsFirstRank();
        if (rank == 0) {
            return v;
        }
        int[] order = new int[rank];
        order[1] = rank - 1;
        for (int i = 2; i < rank; i++) {
            order[i] = i - 1;
        }
        return sd.permute(v, order);
    }

    // ---- JSON bean properties -------------------------------------------------------------------

    public String getExpression() {
        return expression;
    }

    public void setExpression(String expression) {
        this.expression = expression;
    }

    public long getNIn() {
        return nIn;
    }

    public void setNIn(long nIn) {
        this.nIn = nIn;
    }

    public long getNOut() {
        return nOut;
    }

    public void setNOut(long nOut) {
        this.nOut = nOut;
    }

    public long[] getInputShape() {
        return inputShape;
    }

    public void setInputShape(long[] inputShape) {
        this.inputShape = inputShape;
    }

    public long[] getOutputShape() {
        return outputShape;
    }

    public void setOutputShape(long[] outputShape) {
        this.outputShape = outputShape;
    }

    public String getDataFormat() {
        return dataFormat;
    }

    public void setDataFormat(String dataFormat) {
        this.dataFormat = dataFormat;
    }
$accessors}
''')

_WEIGHT_FIELDS = '''    private String[] weightNames = new String[0];
    private long[][] weightShapes = new long[0][];
'''

_WEIGHT_ACCESSORS = '''
    public String[] getWeightNames() {
        return weightNames;
    }

    public void setWeightNames(String[] weightNames) {
        this.weightNames = weightNames;
    }

    public long[][] getWeightShapes() {
        return weightShapes;
    }

    public void setWeightShapes(long[][] weightShapes) {
        this.weightShapes = weightShapes;
    }
'''


def _indent(code: str, spaces: int = 8) -> str:
    return "\n".join(" " * spaces + line if line else line for line in code.splitlines())


def layer_source(class_name: str, expression: Expression, *, keras_class: str,
                 weight_names: Sequence[str] = ()) -> str:
    """The Java source of one generated layer class.

    Args:
        class_name: the simple class name (``java_class_name(keras_class)``).
        expression: the checked expression.
        keras_class: named in the Javadoc.
        weight_names: every Keras weight of the layer, in order (empty: a ``SameDiffLambdaLayer``).
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", class_name) or class_name in _RESERVED:
        raise ExportError("not a usable Java class name for a generated layer", layer=expression.layer,
                          expected="a Java identifier", received=class_name)
    has_weights = bool(weight_names)
    weight_vars = {n: _java_var(n, i) for i, n in enumerate(weight_names)}
    statements = _indent(expression.to_samediff_java("x", weight_vars, result="out"))
    params_doc = ""
    if has_weights:
        params_doc = (" *\n * <p>Parameters: the Keras weights as stored ('c' order), keyed by their Keras names, "
                      "in this order: " + _comment(", ".join(weight_names)) + ".\n")
    header = _HEADER.substitute(
        base="SameDiffLayer" if has_weights else "SameDiffLambdaLayer",
        imports=("import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;\n"
                 "import org.nd4j.linalg.api.ndarray.INDArray;\n"
                 "import org.nd4j.shade.jackson.annotation.JsonIgnore;") if has_weights else "",
        keras_class=_comment(keras_class), comment=_comment(expression.normalized), params_doc=params_doc,
        name=class_name, expression=java_string(expression.text), fields=_WEIGHT_FIELDS if has_weights else "")
    if has_weights:
        weights = _indent("\n".join(f"SDVariable {var} = param(paramTable, {java_string(name)});"
                                    for name, var in weight_vars.items()))
        body = _PARAM_BODY.substitute(weights=weights, statements=statements)
    else:
        body = _LAMBDA_BODY.substitute(statements=statements)
    tail = _COMMON.substitute(accessors=_WEIGHT_ACCESSORS if has_weights else "")
    return header + body + tail


# ------------------------------------------------------------------------------------- compiling


def compile_layers(sources: Mapping[str, str], out_dir: str | os.PathLike[str]) -> Path:
    """Compile generated classes against DL4J 1.0.0-M2.1 and jar them as ``out_dir/workbench-custom-layers.jar``.

    Args:
        sources: simple class name → Java source (package ``workbench.generated``).
        out_dir: where the jar goes (created if needed).

    Returns:
        The jar (class files, their sources, a manifest).

    Raises:
        ExportError: javac rejected a source (the message is javac's) or a class name is not usable.
        RuntimeUnavailable: no ``javac`` on PATH, or the DL4J harness (its jars) cannot be built.
    """
    from workbench.check.dl4j_jvm import ensure_built, harness_classpath

    if not sources:
        raise ExportError("no generated layer classes to compile", expected="at least one class", received={})
    for name in sources:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ExportError("not a usable Java class name", expected="a Java identifier", received=name)
    javac = shutil.which("javac")
    if javac is None:
        raise RuntimeUnavailable("cannot compile the generated DL4J layers: no javac on PATH",
                                 hint="apt-get install openjdk-17-jdk-headless")
    ensure_built()  # DL4J's jars are the harness's dependencies
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="workbench-javac-") as tmp:
        root = Path(tmp)
        src_dir = root / "src" / PACKAGE.replace(".", "/")
        src_dir.mkdir(parents=True)
        classes = root / "classes"
        classes.mkdir()
        files = []
        for name, text in sorted(sources.items()):
            (src_dir / f"{name}.java").write_text(text, encoding="utf-8")
            files.append(f"{PACKAGE.replace('.', '/')}/{name}.java")
        cmd = [javac, "--release", JAVA_RELEASE, "-encoding", "UTF-8", "-nowarn", "-Xlint:none",
               "-cp", harness_classpath(), "-d", str(classes), *files]
        try:
            proc = subprocess.run(cmd, cwd=root / "src", stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=COMPILE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ExportError("javac timed out on the generated layer classes", received=f"{COMPILE_TIMEOUT:.0f} s",
                              expected="a compile within the timeout") from None
        if proc.returncode != 0:
            message = (proc.stderr + proc.stdout).decode("utf-8", "replace").strip()
            lines = [ln for ln in message.splitlines() if ln.strip()]
            raise ExportError(f"javac could not compile the generated layer classes ({', '.join(sorted(sources))})",
                              expected="Java that compiles against DL4J 1.0.0-M2.1",
                              received="\n" + "\n".join(lines[:60]))
        jar = out_dir / JAR_NAME
        partial = out_dir / f".{JAR_NAME}.{os.getpid()}.tmp"
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: keras-dl4j-workbench\r\n\r\n")
            for path in sorted(classes.rglob("*.class")):
                zf.write(path, path.relative_to(classes).as_posix())
            for rel in files:
                zf.write(root / "src" / rel, rel)
        os.replace(partial, jar)
    return jar


# ------------------------------------------------------------------------------ conversions, bundles


def layer_sources(conversion: Any) -> dict[str, str]:
    """Every generated class of a conversion: simple class name → Java source.

    Raises:
        ExportError: two layers generate the same class name from different expressions.
    """
    sources: dict[str, str] = {}
    owners: dict[str, str] = {}
    for node in conversion.nodes:
        mapped = node.mapped
        if not (getattr(mapped, "java_class", None) and getattr(mapped, "java_source", None)):
            continue
        name = mapped.java_class.rsplit(".", 1)[-1]
        if name in sources and sources[name] != mapped.java_source:
            raise ExportError(f"layers '{owners[name]}' and '{node.name}' both generate {PACKAGE}.{name} from "
                              "different expressions", layer=node.name,
                              expected="one expression per Keras class (map the layer by its layer name and "
                                       "class, or give both the same expression)",
                              received=f"{owners[name]} vs {node.name}")
        sources[name] = mapped.java_source
        owners.setdefault(name, node.name)
    return sources


def export_custom_jar(conversion: Any, folder: str | os.PathLike[str]) -> Path | None:
    """Compile every generated class of a conversion into ``folder``; None when there is none."""
    sources = layer_sources(conversion)
    return compile_layers(sources, folder) if sources else None


_README = Template('''\
# $title

Exported by keras-dl4j-workbench for Deeplearning4j 1.0.0-M2.1.

* `model.zip`: the network for `ModelSerializer.$restore(...)`.
$layers_section''')

_LAYERS_SECTION = Template('''\
* `custom-layers/`: the DL4J layer classes generated for the model's custom Keras layers, their Java
  sources and `$jar` (compiled for Java 11+ against DL4J 1.0.0-M2.1).

| Keras layers | DL4J class | expression |
|---|---|---|
$rows

## Using the model in your own DL4J project

`model.zip` names these classes in its `configuration.json` (`"@class": "workbench.generated...."`).
Jackson resolves them by name while the model is read, so **the jar must be on the classpath before
`ModelSerializer.$restore(...)` runs**; without it loading fails with
`InvalidTypeIdException: Could not resolve type id 'workbench.generated...'`.

Maven, installed into your local repository:

```
mvn install:install-file -Dfile=custom-layers/$jar \\
    -DgroupId=workbench.generated -DartifactId=workbench-custom-layers -Dversion=1.0.0 -Dpackaging=jar
```

```xml
<dependency>
  <groupId>workbench.generated</groupId>
  <artifactId>workbench-custom-layers</artifactId>
  <version>1.0.0</version>
</dependency>
```

or, without installing, with system scope (copy the jar into your project's `lib/`):

```xml
<dependency>
  <groupId>workbench.generated</groupId>
  <artifactId>workbench-custom-layers</artifactId>
  <version>1.0.0</version>
  <scope>system</scope>
  <systemPath>$${project.basedir}/lib/$jar</systemPath>
</dependency>
```

Gradle: `implementation files('lib/$jar')`. Plain Java: `java -cp app.jar:lib/*:custom-layers/$jar ...`.

```java
$java_type net = ModelSerializer.$restore(new File("model.zip"), false);
```

The classes are plain Java you may keep with your project (`custom-layers/*.java`); the jar also holds
the sources. They need nothing besides DL4J 1.0.0-M2.1 (`deeplearning4j-nn`, `nd4j-api`).
''')


def write_bundle(conversion: Any, folder: str | os.PathLike[str],
                 write_zip: Callable[[Path], Path]) -> Path:
    """``folder/model.zip``, ``folder/custom-layers/`` (sources + jar) and ``folder/README.md``.

    Args:
        conversion: the mapped model.
        folder: created if needed.
        write_zip: writes the model zip to the path it is given (``Session.export_zip``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sources = layer_sources(conversion)
    if sources:  # compile first: a broken class must not leave a half-written bundle
        custom = folder / "custom-layers"
        compile_layers(sources, custom)
        for name, text in sources.items():
            (custom / f"{name}.java").write_text(text, encoding="utf-8")
    write_zip(folder / "model.zip")
    chain = getattr(conversion, "is_chain", True)
    restore = "restoreMultiLayerNetwork" if chain else "restoreComputationGraph"
    rows = []
    by_class: dict[str, list[str]] = {}
    expressions: dict[str, str] = {}
    for node in conversion.nodes:
        cls = getattr(node.mapped, "java_class", None)
        if cls:
            by_class.setdefault(cls, []).append(node.name)
            expressions[cls] = (node.mapped.layer or {}).get("expression", "")
    for cls, names in by_class.items():
        rows.append(f"| {', '.join(f'`{n}`' for n in names)} | `{cls}` | `{expressions[cls]}` |")
    section = _LAYERS_SECTION.substitute(jar=JAR_NAME, rows="\n".join(rows), restore=restore,
                                         java_type="MultiLayerNetwork" if chain else "ComputationGraph") \
        if sources else "\nThe model uses no generated layers: DL4J 1.0.0-M2.1 alone loads it.\n"
    title = Path(getattr(getattr(conversion, "model", None), "path", None) or "model").name
    readme = _README.substitute(title=f"{title} for DL4J", restore=restore, layers_section=section)
    (folder / "README.md").write_text(readme, encoding="utf-8")
    return folder

