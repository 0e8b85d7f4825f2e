"""Benchmark: convert a ResNet50 (25.6M parameters) to a DL4J zip, against a baseline in the same run.

Baseline: read every weight of the same file with h5py and write the same bytes into a zip (the least
any converter must do). Each side runs in its own fresh interpreter, three times; the figures are the
median wall time and the peak RSS beyond the interpreter with its imports (measured just before work).

Goals (issue 3): time ≤ 1.5× the baseline's; extra peak memory ≤ 1.5× the model's parameter bytes.
Run: .venv/bin/python benchmarks/convert_resnet50.py    (builds the model once, like inspect_resnet50.py)
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from inspect_resnet50 import build_models  # noqa: E402

WORKER = r'''
import json, resource, sys, time, zipfile
mode, model, out = sys.argv[1:4]
import h5py, numpy as np
from workbench.session import Session
def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start_rss = rss_mb()
t0 = time.perf_counter()
if mode == "baseline":
    with h5py.File(model, "r") as f, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("coefficients.bin", "w", force_zip64=True) as dst:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    dst.write(obj[()].astype(">f4").tobytes())
            f.visititems(visit)
else:
    Session(model, keep_steps=False).export_zip(out)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "extra_mb": rss_mb() - start_rss}))
'''


def run(mode: str, model: Path, out: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", WORKER, mode, str(model), str(out)], capture_output=True,
                            text=True, check=True, cwd=HERE.parent)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    model = build_models()["keras3.h5"]
    out = HERE / ".cache" / "resnet50_out.zip"
    from workbench.keras_io import load_model
    param_mb = load_model(model).param_count * 4 / 2**20
    print(f"model: {model.name}, {param_mb:.1f} MiB of float32 parameters")
    figures = {}
    for mode in ("baseline", "workbench"):
        runs = [run(mode, model, out) for _ in range(3)]
        figures[mode] = (statistics.median(r["seconds"] for r in runs), statistics.median(r["extra_mb"] for r in runs))
        print(f"{mode:10} time {figures[mode][0]:6.2f} s   extra peak RSS {figures[mode][1]:7.1f} MiB   "
              "(runs: " + ", ".join(f"{r['seconds']:.2f}" for r in runs) + ")")
    base_t, _ = figures["baseline"]
    ours_t, ours_mb = figures["workbench"]
    print(f"time ratio workbench/baseline: {ours_t / base_t:.2f}x (goal ≤ 1.5x)")
    print(f"extra peak memory / model size: {ours_mb / param_mb:.2f}x (goal ≤ 1.5x)")


if __name__ == "__main__":
    main()
