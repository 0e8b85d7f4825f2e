"""Write the walkthrough notebooks (outputs stripped) from the cell sources below.

Run: python tools/make_notebooks.py   (the .ipynb files are committed; this keeps them reviewable)

    01_quickstart          the Workbench on the seed model, then the same steps as API calls
    02_convolution         NHWC vs NCHW, and the Dense-after-Flatten trap caught by verify
    03_recurrent           LSTM gate order [i,f,c,o] → [c,f,o,i]
    04_custom_layers       a custom layer with weights, mapped by an expression
    05_debugging_mapping   a wrong mapping found by verify, inspected, fixed
    06_framework_differences  the Keras/DL4J differences the mappers handle, one tiny demo each
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]

md, code = new_markdown_cell, new_code_cell

SETUP = (
    "from pathlib import Path\n"
    "ROOT = Path.cwd().parent if Path.cwd().name == 'notebooks' else Path.cwd()\n"
    "SAMPLES = ROOT / 'sample_models'\n"
    "CUSTOM = SAMPLES / 'custom_layers.py'   # our own trusted classes, imported only to run Keras")

SHOW_FIGURE = (
    "from IPython.display import Image\n"
    "from matplotlib.figure import Figure\n"
    "from workbench.plots import figure_png, plot_tensor, plot_difference, plot_layer_errors\n\n"
    "def show(fig):\n"
    "    \"\"\"Figures are drawn without pyplot; this shows one in the notebook.\"\"\"\n"
    "    return Image(figure_png(fig))")

STORED_INPUTS = (
    "import numpy as np\n\n"
    "def stored_inputs(stem):\n"
    "    \"\"\"The fixed batch saved next to each sample (the inputs its Keras outputs were recorded for).\"\"\"\n"
    "    data = np.load(SAMPLES / f'{stem}_io.npz')\n"
    "    return {k.split(':', 1)[1]: data[k] for k in data.files if k.startswith('input:')}")

QUICKSTART = [
    md("# 01 · Quickstart: the Workbench on a model with a custom layer\n\n"
       "The seed model is `Dense(784→64, relu) → MyActivation → Dense(10, softmax)`, where `MyActivation` "
       "is a custom layer computing `relu(x) * sigmoid(x)`. The workbench reads the file with h5py and json "
       "only: nothing stored in it is imported or executed, and no weight array is read until asked for."),
    code(SETUP),
    md("## The Workbench\n\n"
       "Run the cell: the **Layers** tab lists every layer with its status (`MyActivation` *needs a mapping*); "
       "selecting a layer drives the other tabs. Try: **Mapping** → expression `relu(x) * sigmoid(x)` → "
       "*Apply mapping*; **Weights** on `dense`; **Verify** → *Run NumPy reference*; **Export**."),
    code("from workbench.ui import Workbench\n\n"
         "app = Workbench(SAMPLES / 'seed.keras', custom_objects=CUSTOM, export_dir=ROOT / 'out' / 'quickstart')\n"
         "app"),
    md("## The same steps as API calls\n\n"
       "Every button above is one call on a `Session`; here is the whole path in code, on a session of its own."),
    code("import workbench\n"
         "from workbench.cli import render_table, render_report\n"
         "from workbench.session import Session\n\n"
         "session = Session(SAMPLES / 'seed.keras', custom_objects=CUSTOM)\n"
         "inv = session.inventory()\n"
         "print(render_table(inv))"),
    md("The same model saved by Keras 2 (tf-keras) and as a Keras 3 legacy `.h5` reads the same way: "
       "the reader normalises the two dialects once, so everything after it never asks which Keras wrote the file."),
    code("for name in ['seed.h5', 'seed_keras2.h5', 'seed.keras']:\n"
         "    m = workbench.load_model(SAMPLES / name)\n"
         "    print(f\"{name:16} Keras {m.keras_version:7} {m.format:6}\", [(l.name, l.class_name) for l in m.layers])"),
    md("Each weight is described by name, shape and dtype; `read()` loads the array only when you ask."),
    code("dense = session.model.layer('dense')\n"
         "for w in dense.weights:\n"
         "    print(w.name, w.shape, w.dtype, w.source)\n"
         "print('kernel mean', float(dense.weight('kernel').read().mean()))"),
    md("`MyActivation` is a custom class: DL4J's own importer stops here, and so does the conversion, "
       "naming the layer and the ways to map it."),
    code("try:\n"
         "    session.conversion\n"
         "except workbench.MappingError as err:\n"
         "    print(err)"),
    md("Map it by an expression (the Mapping tab does the same call). The expression is parsed, never "
       "evaluated as Python; the DL4J side is a generated SameDiff layer."),
    code("session.set_mapping('MyActivation', {'expression': 'relu(x) * sigmoid(x)'})\n"
         "for key, mapped in session.conversion.mapped.items():\n"
         "    cls = (mapped.layer or mapped.vertex or {}).get('@class', '(vanishes)')\n"
         "    print(f'{key:15} → {cls}')"),
    md("Verify: Keras runs the original model (it needs our `custom_layers.py` for that), the NumPy "
       "reference runs the DL4J model with DL4J's semantics, and every layer is compared — alone (*isolated*) "
       "and in the whole model (*propagated*). `verify(dl4j=True)` also runs real DL4J on the JVM."),
    code("report = session.verify()\n"
         "print(render_report(report))"),
    code("out = ROOT / 'out' / 'quickstart-api'\n"
         "out.mkdir(parents=True, exist_ok=True)\n"
         "print(session.export_zip(out / 'seed.zip'))\n"
         "print(session.export_json(out / 'seed.configuration.json'))\n"
         "print(session.save_mapping(out / 'seed.mapping.json'))"),
]

CONVOLUTION = [
    md("# 02 · Convolution, and the NHWC → NCHW trap at Flatten\n\n"
       "Keras keeps images channels-last (`[batch, h, w, c]`, *NHWC*). DL4J can run either layout: `NHWC` "
       "(its Keras importer's choice since beta7) or its classic `NCHW`. Convolution kernels are converted "
       "the same way for both; the difference shows where a `Flatten` meets a `Dense`."),
    code(SETUP + "\n\n" + STORED_INPUTS + "\n\n" + SHOW_FIGURE),
    code("from workbench.cli import render_report\n"
         "from workbench.session import Session\n\n"
         "sessions = {fmt: Session(SAMPLES / 'cnn.keras', cnn_format=fmt) for fmt in ('NHWC', 'NCHW')}\n"
         "for fmt, s in sessions.items():\n"
         "    print(fmt)\n"
         "    for key, mapped in s.conversion.mapped.items():\n"
         "        for p in mapped.params:\n"
         "            steps = ' → '.join(f'{st.name}[{\",\".join(st.axes)}]{tuple(st.shape)}' for st in p.trace.steps)\n"
         "            print(f'  {key:20} {p.key:5} {steps}')"),
    md("A Conv2D kernel is stored by Keras as `[kh, kw, in, out]` and by DL4J as `[out, in, kh, kw]`: the "
       "same numbers, permuted. Slicing both at the same kernel position shows the transposition."),
    code("W = sessions['NCHW'].conversion.mapped['conv2d_1'].params[1].trace\n"
         "keras, dl4j = W.steps[0], W.steps[-1]\n"
         "fig = Figure(figsize=(9, 3.2))\n"
         "a, b = fig.subplots(1, 2)\n"
         "plot_tensor(a, keras.value, keras.axes, title='Keras', slice_index={'kh': 1, 'kw': 1}, colorbar=True)\n"
         "plot_tensor(b, dl4j.value, dl4j.axes, title=f'DL4J · {dl4j.name}', slice_index={'kh': 1, 'kw': 1}, colorbar=True)\n"
         "fig.tight_layout()\n"
         "show(fig)"),
    md("**The trap.** Keras flattens `[h, w, c]` in that order; an NCHW network flattens `[c, h, w]`. The Dense "
       "layer after the Flatten must therefore read its rows in another order. The workbench adds a named step, "
       "`flatten_rows_hwc_to_chw`, only for NCHW. Which Keras row does each DL4J row hold?"),
    code("from workbench.mappers import transforms as T\n\n"
         "dense = sessions['NCHW'].conversion.mapped['dense'].params[0].trace\n"
         "step = dense.steps[-1]\n"
         "print(step.name, '—', step.doc)\n"
         "rows = T.flatten_rows_hwc_to_chw(T.keras_weight('rows', np.arange(96).reshape(96, 1), ('in', 'out')), (4, 4, 6))\n"
         "print('DL4J row r holds Keras row', rows.value[:10, 0], '...')\n"
         "fig = Figure(figsize=(10, 3.2))\n"
         "a, b, c = fig.subplots(1, 3)\n"
         "plot_tensor(a, dense.steps[0].value, ('in', 'out'), title='Keras rows (h, w, c)')\n"
         "plot_tensor(b, step.value, ('in', 'out'), title='DL4J NCHW rows (c, h, w)')\n"
         "plot_difference(c, dense.steps[0].value, step.value, ('in', 'out'), title='rows moved')\n"
         "fig.tight_layout()\n"
         "show(fig)"),
    md("Verify both formats on the stored batch: every layer matches Keras, isolated and propagated."),
    code("inputs = stored_inputs('cnn')\n"
         "for fmt, s in sessions.items():\n"
         "    print(fmt)\n"
         "    print(render_report(s.verify(inputs)))"),
    md("Now skip the permutation on purpose (as a buggy converter would) and let verify find it. The Flatten "
       "is folded into a preprocessor, the convolutions still match — and the first layer that diverges, "
       "isolated, is `dense`."),
    code("from unittest import mock\n"
         "from workbench.mappers import core\n\n"
         "def forgetful(trace, spatial_channels):\n"
         "    return T.as_is(trace, 'deliberately NOT permuted')\n\n"
         "with mock.patch.object(core.T, 'flatten_rows_hwc_to_chw', forgetful):\n"
         "    broken = Session(SAMPLES / 'cnn.keras', cnn_format='NCHW').verify(inputs)\n"
         "print(render_report(broken))\n"
         "print('first divergence:', broken.first_divergence)"),
    code("fig = Figure(figsize=(7, 3.6))\n"
         "plot_layer_errors(fig.subplots(), broken, atol=broken.atol)\n"
         "fig.tight_layout()\n"
         "show(fig)"),
    md("Explore it in the Workbench: switch *CNN format*, look at `dense` in **Weights**, run **Verify**."),
    code("from workbench.ui import Workbench\n"
         "Workbench(SAMPLES / 'cnn.keras', cnn_format='NCHW', export_dir=ROOT / 'out' / 'cnn')"),
]

RECURRENT = [
    md("# 03 · Recurrent layers and gate order\n\n"
       "A Keras LSTM stores its four gate blocks as `[i | f | c | o]` (input, forget, cell candidate, output) "
       "along the last axis of `kernel`, `recurrent_kernel` and `bias`. DL4J's LSTM expects `[c | f | o | i]`. "
       "Same numbers, blocks moved: a converter that forgets it produces a model that loads and answers wrongly."),
    code(SETUP + "\n\n" + STORED_INPUTS + "\n\n" + SHOW_FIGURE),
    code("from workbench.cli import render_report\n"
         "from workbench.session import Session\n\n"
         "session = Session(SAMPLES / 'lstm.keras')\n"
         "lstm = session.conversion.mapped['lstm']\n"
         "for p in lstm.params:\n"
         "    print(p.key, ' → '.join(f'{s.name}{tuple(s.shape)}' for s in p.trace.steps), '|', p.trace.steps[-1].doc)\n"
         "print(lstm.notes)"),
    md("The reorder on labelled columns (2 units per gate):"),
    code("from workbench.mappers import transforms as T\n\n"
         "labels = np.array([f'{g}{k}' for g in 'ifco' for k in range(2)])\n"
         "moved = T.lstm_gates_ifco_to_cfoi(T.keras_weight('bias', labels, ('gates',)), units=2)\n"
         "print('Keras', moved.steps[0].value)\n"
         "print('DL4J ', moved.value)"),
    md("The kernel before and after, with the gate boundaries: the DL4J block `c` is the Keras block `c`, etc."),
    code("W = lstm.params[0].trace\n"
         "units = W.value.shape[1] // 4\n"
         "fig = Figure(figsize=(10, 3))\n"
         "axes = fig.subplots(1, 2)\n"
         "for ax, step, order in zip(axes, (W.steps[0], W.steps[-1]), ('ifco', 'cfoi')):\n"
         "    plot_tensor(ax, step.value, step.axes, title=f'{step.name}: [{\"|\".join(order)}]')\n"
         "    for k in range(1, 4):\n"
         "        ax.axvline(k * units - 0.5, color='k', linewidth=1)\n"
         "    ax.set_xticks([k * units + units / 2 - 0.5 for k in range(4)], list(order))\n"
         "fig.tight_layout()\n"
         "show(fig)"),
    code("print(render_report(session.verify(stored_inputs('lstm'))))"),
    md("And with the reorder left out, verify names the first LSTM:"),
    code("from unittest import mock\n"
         "from workbench.mappers import recurrent\n\n"
         "with mock.patch.object(recurrent.T, 'lstm_gates_ifco_to_cfoi', lambda trace, units: T.as_is(trace, 'NOT reordered')):\n"
         "    broken = Session(SAMPLES / 'lstm.keras').verify(stored_inputs('lstm'))\n"
         "print('first divergence:', broken.first_divergence)"),
    code("from workbench.ui import Workbench\n"
         "Workbench(SAMPLES / 'lstm.keras', export_dir=ROOT / 'out' / 'lstm')"),
]

CUSTOM_LAYERS = [
    md("# 04 · Custom layers with weights\n\n"
       "`ScaleShift` is a custom Keras layer with its own trainable weights `gamma` and `beta` (8 each), "
       "computing `x * gamma + beta`. No converter knows it; the workbench maps it by an *expression* over "
       "the input `x` and the layer's own weights, by name."),
    code(SETUP + "\n\n" + STORED_INPUTS),
    code("import workbench\n"
         "from workbench.cli import render_report\n"
         "from workbench.session import Session\n\n"
         "session = Session(SAMPLES / 'scale_shift.keras', custom_objects=CUSTOM)\n"
         "spec = session.model.layer('scale_shift')\n"
         "print(spec.class_name, [(w.name, w.shape) for w in spec.weights])\n"
         "try:\n"
         "    session.conversion\n"
         "except workbench.MappingError as err:\n"
         "    print(err)"),
    md("The expression is checked against the layer's shapes when the layer is mapped; the weights become "
       "the generated DL4J layer's parameters, as stored."),
    code("session.set_mapping('ScaleShift', {'expression': 'x * gamma + beta'})\n"
         "mapped = session.conversion.mapped['scale_shift']\n"
         "print(mapped.layer['@class'])\n"
         "for p in mapped.params:\n"
         "    print(p.key, p.value.shape, ' → '.join(s.name for s in p.trace.steps))"),
    code("report = session.verify(stored_inputs('scale_shift'))\n"
         "print(render_report(report))"),
    md("The choice is saved as a mapping file, reviewable and reusable (`workbench convert --mapping`):"),
    code("out = ROOT / 'out' / 'custom'\n"
         "out.mkdir(parents=True, exist_ok=True)\n"
         "path = session.save_mapping(out / 'scale_shift.mapping.json')\n"
         "print(path.read_text())\n"
         "again = Session(SAMPLES / 'scale_shift.keras', custom_objects=CUSTOM)\n"
         "again.load_mapping(path)\n"
         "print('scale_shift' in again.conversion.mapped)"),
    md("An unsafe or malformed expression is refused before anything runs:"),
    code("try:\n"
         "    session.set_mapping('ScaleShift', {'expression': \"__import__('os').system('id')\"})\n"
         "except workbench.MappingError as err:\n"
         "    print(type(err).__name__, ':', err)"),
    code("from workbench.ui import Workbench\n"
         "Workbench(SAMPLES / 'scale_shift.keras', custom_objects=CUSTOM, export_dir=ROOT / 'out' / 'custom')"),
]

DEBUGGING = [
    md("# 05 · Debugging a wrong mapping\n\n"
       "A mapping that is accepted can still be wrong. Here `ScaleShift` is mapped with its weights swapped "
       "(`x * beta + gamma`): every shape fits, the model exports — and computes something else. Verify finds "
       "the layer; the layer test and the output view show how wrong it is."),
    code(SETUP + "\n\n" + STORED_INPUTS + "\n\n" + SHOW_FIGURE),
    code("from workbench.cli import render_report\n"
         "from workbench.session import Session\n\n"
         "session = Session(SAMPLES / 'scale_shift.keras', custom_objects=CUSTOM)\n"
         "session.set_mapping('ScaleShift', {'expression': 'x * beta + gamma'})   # wrong on purpose\n"
         "inputs = stored_inputs('scale_shift')\n"
         "report = session.verify(inputs)\n"
         "print(render_report(report))\n"
         "print('first divergence:', report.first_divergence)"),
    md("The chart: `dense` matches, `scale_shift` diverges *isolated* (it is wrong by itself, not just fed "
       "bad input), and `dense_1` inherits the error only *propagated*."),
    code("fig = Figure(figsize=(6, 3.4))\n"
         "plot_layer_errors(fig.subplots(), report, atol=report.atol)\n"
         "fig.tight_layout()\n"
         "show(fig)"),
    md("Test the layer alone while trying fixes (`Session.test_layer`: this layer fed Keras's own input):"),
    code("for expression in ['x * beta + gamma', 'x + gamma * beta', 'x * gamma + beta']:\n"
         "    session.set_mapping('ScaleShift', {'expression': expression})\n"
         "    d = session.test_layer('scale_shift', inputs)\n"
         "    print(f'{expression:20} max |error| {d.max_abs:.2e}', 'ok' if d.max_abs < 1e-5 else 'WRONG')"),
    code("print(render_report(session.verify(inputs)))"),
    md("The same in the Workbench: **Mapping** (edit, *Test layer*), **Verify** (chart, outputs side by side)."),
    code("from workbench.ui import Workbench\n"
         "Workbench(session, export_dir=ROOT / 'out' / 'debugging')"),
]

DIFFERENCES = [
    md("# 06 · Keras and DL4J differ: a field guide\n\n"
       "Each section is one difference the workbench's mappers handle, with a tiny demo through the workbench "
       "API. Getting any of them wrong gives a model that loads and answers wrongly — which is what `verify` is for."),
    code(SETUP + "\n\n"
         "import numpy as np\n"
         "import workbench\n"
         "from workbench.mappers import transforms as T\n"
         "from workbench.mappers.result import Activation"),
    md("## 1. Layouts: channels last vs channels first\n\n"
       "Keras images are `[batch, h, w, c]`; DL4J's NCHW is `[batch, c, h, w]`. Activations are permuted at the "
       "network's edges; kernels are stored once, `[out, in, kh, kw]`, whichever activation layout runs."),
    code("x = np.arange(1 * 2 * 3 * 4).reshape(1, 2, 3, 4)            # Keras: h=2, w=3, c=4\n"
         "act = Activation('cnn', (2, 3, 4), 'NCHW')\n"
         "print('Keras', x.shape, '→ DL4J NCHW', act.to_dl4j(x).shape)\n"
         "print('pixel (0,0) channels, Keras:', x[0, 0, 0], ' DL4J:', act.to_dl4j(x)[0, :, 0, 0])\n"
         "k = T.conv_kernel_to_oihw(T.keras_weight('kernel', np.zeros((3, 3, 2, 8)), ('kh', 'kw', 'in', 'out')))\n"
         "for step in k.steps:\n"
         "    print(f'{step.name:20} [{\", \".join(step.axes)}] {step.shape}')"),
    md("## 2. Flatten order\n\n"
       "Flattening `[h, w, c]` (Keras) and `[c, h, w]` (DL4J NCHW) orders the same values differently, so the "
       "Dense after a Flatten reads permuted rows. With NHWC there is nothing to permute."),
    code("rows = T.flatten_rows_hwc_to_chw(T.keras_weight('kernel', np.arange(12).reshape(12, 1), ('in', 'out')), (2, 2, 3))\n"
         "print(rows.steps[-1].doc)\n"
         "print('DL4J row → Keras row:', rows.value[:, 0])"),
    md("## 3. LSTM gate order\n\n"
       "Keras `[i|f|c|o]`, DL4J `[c|f|o|i]` along the gate axis of all three LSTM weights."),
    code("labels = np.array([f'{g}{k}' for g in 'ifco' for k in range(2)])\n"
         "print(T.lstm_gates_ifco_to_cfoi(T.keras_weight('bias', labels, ('gates',)), units=2).value)"),
    md("## 4. BatchNormalization: variance vs log10 of the standard deviation\n\n"
       "Keras stores `moving_variance`. DL4J's BatchNormalization can store either `var` or `log10stdev`; it "
       "reads the 4th parameter as a log-std unless the layer's `variables` list names `var`. The workbench "
       "exports `var` with `useLogStd=false`; had it not, a variance of 0.5 would be read as a std of 10^0.5."),
    code("from workbench.session import Session\n\n"
         "bn = Session(SAMPLES / 'cnn.keras').conversion.mapped['batch_normalization']\n"
         "print('useLogStd', bn.layer['useLogStd'], '| variables', bn.variables, '|', [p.key for p in bn.params])\n"
         "var = bn.params[3].value\n"
         "print('var          ', np.round(var, 4))\n"
         "print('log10 std    ', np.round(np.log10(np.sqrt(var)), 4), ' (what useLogStd=true would store)')\n"
         "print('var misread as log10 std →', np.round((10.0 ** var) ** 2, 2))"),
    md("## 5. Dropout: drop rate vs retain probability\n\n"
       "Keras `Dropout(rate=0.3)` drops 30 %; DL4J's `Dropout(p)` takes the probability to *retain*: 0.7. "
       "(Both are identity at inference, but a model trained further in DL4J would drop 70 % if copied over.)"),
    code("from workbench.keras_io.model import LayerSpec\n"
         "from workbench.mappers import MapContext, lookup\n\n"
         "spec = LayerSpec(name='drop', class_name='Dropout', config={'rate': 0.3})\n"
         "mapped = lookup(spec)(MapContext(spec, (Activation('ff', (8,)),)))\n"
         "print(mapped.layer['@class'].rsplit('.', 1)[1], mapped.layer['idropout'])"),
    md("## 6. Softmax axis\n\n"
       "DL4J's softmax activation runs over the **last** axis of whatever it gets. For NWC data that is features, "
       "like Keras; for NCW it is *time*. The workbench refuses a softmax that would land on the wrong axis."),
    code("from workbench.check.reference import ACTIVATIONS\n\n"
         "x = np.random.default_rng(0).standard_normal((1, 3, 4))      # DL4J NCW: 3 features, 4 time steps\n"
         "y = ACTIVATIONS['ActivationSoftmax']({}, x)\n"
         "print('sums over features:', y.sum(axis=1).round(3), ' sums over time:', y.sum(axis=2).round(3))\n"
         "spec = LayerSpec(name='probs', class_name='Activation', config={'activation': 'softmax'})\n"
         "for fmt in ('NWC', 'NCW'):\n"
         "    try:\n"
         "        lookup(spec)(MapContext(spec, (Activation('rnn', (4, 3), fmt),)))\n"
         "        print(fmt, 'mapped')\n"
         "    except workbench.MappingError as err:\n"
         "        print(fmt, 'refused:', err)"),
    md("## 7. In-place activations\n\n"
       "At inference DL4J's `ActivationLayer` writes its result into its input array. If another layer also "
       "reads that input, it sees the activated values. The workbench gives such a layer its own copy (a "
       "`ScaleVertex` with factor 1). A tiny Keras model shows it: `d = Dense(x); out = d + relu(d)`."),
    code("import os, tempfile\n"
         "os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')\n"
         "import keras\n\n"
         "inp = keras.Input((3,), name='x')\n"
         "d = keras.layers.Dense(4, name='d')(inp)\n"
         "a = keras.layers.Activation('relu', name='act')(d)\n"
         "out = keras.layers.Add(name='sum')([d, a])\n"
         "path = Path(tempfile.mkdtemp()) / 'in_place.keras'\n"
         "keras.Model(inp, out).save(path)\n\n"
         "s = Session(path)\n"
         "for node in s.conversion.nodes:\n"
         "    print(f'{node.name:18} ← {node.inputs}', '|', '; '.join(node.mapped.notes))\n"
         "print('verified:', s.verify().passed)"),
]

NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_convolution.ipynb": CONVOLUTION,
    "03_recurrent.ipynb": RECURRENT,
    "04_custom_layers.ipynb": CUSTOM_LAYERS,
    "05_debugging_mapping.ipynb": DEBUGGING,
    "06_framework_differences.ipynb": DIFFERENCES,
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells, metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        nbformat.write(nb, ROOT / "notebooks" / name)


if __name__ == "__main__":
    main()
