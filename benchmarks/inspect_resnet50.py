"""Benchmark: inspecting a ResNet50-sized model (25.6M parameters, 177 layers) without reading weights.

Prints, for the Keras 3 ``.h5``, the Keras 2 ``.h5`` and the ``.keras`` file:
  * in-process time of ``load_model`` + ``inventory`` (median of 5),
  * wall time of ``python -m workbench inspect --json`` against the baseline of the same
    interpreter doing only ``import workbench`` (measured in the same run),
  * the bytes of weight data read (0 expected: inspection is lazy).

Run: .venv/bin/python benchmarks/inspect_resnet50.py     (first run builds the models, ~30 s)
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


def build_models() -> dict[str, Path]:
    CACHE.mkdir(exist_ok=True)
    paths = {"keras3.h5": CACHE / "resnet50.h5", "keras": CACHE / "resnet50.keras",
             "keras2.h5": CACHE / "resnet50_keras2.h5"}
    if all(p.exists() for p in paths.values()):
        return paths
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    model = keras.applications.ResNet50(weights=None)  # random weights: no download
    model.save(paths["keras3.h5"])
    model.save(paths["keras"])
    import tf_keras
    tf_keras.applications.ResNet50(weights=None).save(paths["keras2.h5"])
    return paths


def wall(args: list[str], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    paths = build_models()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import h5py

    from workbench.inventory import inventory
    from workbench.keras_io import load_model

    reads = {"n": 0}
    original = h5py.Dataset.__getitem__

    def counting(self, key):
        reads["n"] += 1
        return original(self, key)

    baseline = wall([sys.executable, "-c", "import workbench, workbench.cli, workbench.inventory"])
    print(f"baseline: interpreter start + import workbench: {baseline * 1000:.0f} ms (median of 5)")
    print(f"{'file':10} {'size MB':>8} {'layers':>7} {'params':>11} {'in-process ms':>14} "
          f"{'CLI ms':>8} {'CLI - baseline ms':>18} {'arrays read':>12}")
    for label, path in paths.items():
        times = []
        h5py.Dataset.__getitem__ = counting
        try:
            for _ in range(5):
                start = time.perf_counter()
                inv = inventory(load_model(path))
                times.append(time.perf_counter() - start)
        finally:
            h5py.Dataset.__getitem__ = original
        cli = wall([sys.executable, "-m", "workbench", "inspect", str(path), "--json"])
        print(f"{label:10} {path.stat().st_size / 1e6:8.1f} {len(inv['layers']):7d} {inv['model']['params']:11,d} "
              f"{statistics.median(times) * 1000:14.0f} {cli * 1000:8.0f} {(cli - baseline) * 1000:18.0f} "
              f"{reads['n']:12d}")
        reads["n"] = 0


if __name__ == "__main__":
    main()
