"""Compatibility report: every sample model, and the Keras fixtures with expected outputs under
../shared/dl4j-reference/keras, through both paths in real DL4J 1.0.0-M2.1:

  * ours: workbench convert → ModelSerializer zip → DL4J loads and runs it;
  * DL4J's own KerasModelImport on the same Keras file.

For each: loads yes/no, max |error| of the final output against Keras's, time, and the error text.
Run: .venv/bin/python tools/compatibility.py        (writes docs/compatibility.md)
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.check.dl4j_jvm import DL4JJob, HarnessError, run_jobs, run_keras_import  # noqa: E402
from workbench.check.verify import dl4j_inputs  # noqa: E402
from workbench.errors import WorkbenchError  # noqa: E402
from workbench.export.atomic import write_text  # noqa: E402
from workbench.session import Session  # noqa: E402

SAMPLES = ROOT / "sample_models"
FIXTURES = ROOT.parent / "shared" / "dl4j-reference" / "keras" / "examples"
OUT = ROOT / "docs" / "compatibility.md"
SAMPLE_MAPPING = SAMPLES / "mapping.json"  # the expressions for the samples' custom layers
ATOL = 1e-5
KERAS_IMPORT_TIMEOUT = 60.0


@dataclass
class Case:
    group: str
    path: Path
    inputs: dict[str, np.ndarray]
    expected: np.ndarray  # the model's (first) output, Keras layout


def sample_cases() -> list[Case]:
    cases = []
    for io_file in sorted(SAMPLES.glob("*_io.npz")):
        stem = io_file.name[: -len("_io.npz")]
        data = np.load(io_file)
        inputs = {k.split(":", 1)[1]: data[k] for k in data.files if k.startswith("input:")}
        expected = data[[k for k in data.files if k.startswith("output:")][0]]
        for suffix in (".keras", ".h5", "_keras2.h5"):
            cases.append(Case("sample", SAMPLES / f"{stem}{suffix}", inputs, expected))
    return cases


def fixture_cases() -> list[Case]:
    cases = []
    for io_file in sorted(FIXTURES.glob("*/*_inputs_and_outputs.h5")):
        model = io_file.with_name(io_file.name.replace("_inputs_and_outputs.h5", "_model.h5"))
        if not model.exists():
            continue
        with h5py.File(io_file, "r") as f:
            if "inputs" not in f or "predictions" not in f:
                continue
            inputs = {name: f["inputs"][name][()] for name in f["inputs"]}
            expected = f["predictions"][list(f["predictions"])[0]][()]
        cases.append(Case(f"fixture:{io_file.parent.name}", model, inputs, expected))
    return cases


def final_error(outputs: dict[str, np.ndarray], expected: np.ndarray, to_keras=None, name: str | None = None) -> float:
    """Max |error| of the model's first output (``name``, else the last activation), in Keras's layout."""
    if not outputs:
        return float("nan")
    last = outputs[name] if name in outputs else list(outputs.values())[-1]
    if to_keras is not None:
        last = to_keras(last)
    elif last.shape != expected.shape and last.ndim == expected.ndim and last.ndim >= 3:
        last = np.moveaxis(last, 1, -1)
    if last.shape != expected.shape:
        return float("inf")
    return float(np.abs(last.astype(np.float64) - expected).max())


def main() -> int:
    cases = sample_cases() + (fixture_cases() if FIXTURES.is_dir() else [])
    tmp = ROOT / "out" / "compat"
    tmp.mkdir(parents=True, exist_ok=True)
    ours: list[tuple[str | None, float, DL4JJob | None, object]] = []
    jobs: list[DL4JJob] = []
    custom_jars: list[Path] = []
    for i, case in enumerate(cases):
        start = time.perf_counter()
        try:
            sample = case.group == "sample"
            session = Session(case.path, custom_objects=SAMPLES / "custom_layers.py" if sample else None)
            if sample and SAMPLE_MAPPING.exists():
                session.load_mapping(SAMPLE_MAPPING)
            conv = session.conversion
            zip_path = session.export_zip(tmp / f"case{i:03d}.zip")
            named = dict(zip([n for n, _ in conv.inputs], case.inputs.values()))
            jar = session.export_custom_jar(tmp / f"case{i:03d}-layers")
            job = DL4JJob(zip_path, dl4j_inputs(conv, named))
            if jar is not None:
                custom_jars.append(jar)
            first = conv.outputs[0]
            out_act = conv.mapped[first].output if first in conv.mapped else None
            ours.append((None, time.perf_counter() - start, job, (out_act, first)))
            jobs.append(job)
        except WorkbenchError as err:
            ours.append((str(err).replace(str(case.path) + ": ", ""), time.perf_counter() - start, None, None))
    runs = iter(run_jobs(jobs, extra_jars=custom_jars, timeout=3600))
    rows = []
    for case, (our_err, convert_s, job, out_act) in zip(cases, ours):
        if job is not None:
            run = next(runs)
            act, first = out_act
            err = final_error(run.outputs, case.expected, act.to_keras if act is not None else None, first)
            our = ("yes" if run.error is None else "no", err, convert_s + run.seconds, run.error or "")
        else:
            our = ("no", float("nan"), convert_s, our_err)
        if case.path.suffix == ".h5":
            dl4j = keras_import(case)
        else:
            dl4j = ("n/a", float("nan"), 0.0, "KerasModelImport reads HDF5 files only")
        rows.append((case, our, dl4j))
    write_table(rows)
    print(f"wrote {OUT.relative_to(ROOT)}: {len(rows)} files")
    return 0


def keras_import(case: Case) -> tuple[str, float, float, str]:
    """DL4J's own importer, one JVM per file: it can hang (random Orthogonal init of recurrent weights)."""
    start = time.perf_counter()
    try:
        run = run_keras_import(case.path, {k: v.astype(np.float32) for k, v in case.inputs.items()},
                               timeout=KERAS_IMPORT_TIMEOUT)
    except HarnessError as err:
        return "no", float("nan"), time.perf_counter() - start, f"DL4J did not finish: {err}"
    return ("yes" if run.error is None else "no", final_error(run.outputs, case.expected), run.seconds,
            run.error or "")


def _fmt(err: float) -> str:
    return "-" if np.isnan(err) else ("shape differs" if np.isinf(err) else f"{err:.1e}")


def _short(text: str, n: int = 160) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= n else text[: n - 1] + "…"


def write_table(rows) -> None:
    def verdict(loads: str, err: float) -> str:
        return "✅" if loads == "yes" and err <= ATOL else ("⚠️" if loads == "yes" else "❌")

    ok_ours = sum(1 for _, o, _ in rows if verdict(o[0], o[1]) == "✅")
    h5_rows = [r for r in rows if r[0].path.suffix == ".h5"]
    ok_dl4j = sum(1 for _, _, d in h5_rows if verdict(d[0], d[1]) == "✅")
    lines = [
        "# Compatibility: workbench export vs DL4J's own KerasModelImport (DL4J 1.0.0-M2.1)",
        "",
        "Generated by `.venv/bin/python tools/compatibility.py` (do not edit by hand). Both paths run in real",
        "DL4J 1.0.0-M2.1 on the JVM; the error is the max |DL4J − Keras| of the model's final output on the",
        f"stored input batch (✅ loads and within {ATOL:g}, ⚠️ loads but differs, ❌ does not load).",
        "Time: ours = convert + DL4J load and run; KerasModelImport = import and run (one shared JVM, start-up",
        "excluded).",
        "",
        f"**Ours: {ok_ours}/{len(rows)} files match. KerasModelImport: {ok_dl4j}/{len(h5_rows)} HDF5 files match.**",
        "",
        "| file | ours | max err | time s | KerasModelImport | max err | time s | why it failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case, our, dl4j in rows:
        rel = case.path.relative_to(ROOT) if case.path.is_relative_to(ROOT) else case.path.relative_to(FIXTURES.parent.parent)
        why = "; ".join(t for t in (f"ours: {_short(our[3])}" if our[3] else "",
                                     f"DL4J: {_short(dl4j[3])}" if dl4j[3] and dl4j[0] != "n/a" else "") if t)
        lines.append(f"| `{rel}` | {verdict(our[0], our[1])} | {_fmt(our[1])} | {our[2]:.2f} | "
                     f"{verdict(dl4j[0], dl4j[1]) if dl4j[0] != 'n/a' else 'n/a'} | {_fmt(dl4j[1])} | "
                     f"{dl4j[2]:.2f} | {why} |")
    OUT.parent.mkdir(exist_ok=True)
    write_text(OUT, "\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
