"""Benchmark: opening the Workbench and switching its panels, against ``Session(path)`` alone.

For each bundled sample, ResNet50 (177 layers, 25.6M parameters; built once by ``inspect_resnet50.py``
into ``benchmarks/.cache``) and DenseNet121 (428 layers, 8M parameters, built here), in one process:

  * ``Session(path)``: the baseline, measured in the same run (median of the repeats);
  * ``Workbench(path)``: the open, which also maps the whole model and fills the Layers list;
  * each panel's first draw after a layer is selected (median over a few layers: the layer with the
    biggest kernel, a middle one, the last one). The Verify panel only draws its empty state: its
    work is the Keras run, which `verify` benchmarks measure.

No widget is displayed (no kernel, no browser): this is the Python side of each action.

Run: .venv/bin/python benchmarks/ui_open.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.session import Session  # noqa: E402
from workbench.ui import Workbench  # noqa: E402
from workbench.ui.app import TABS  # noqa: E402

SAMPLES = ["seed", "cnn", "lstm", "functional", "scale_shift", "nested"]
PANELS = TABS[1:]  # Layers is drawn by the open itself


def median_time(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def probe_layers(app: Workbench) -> list[str]:
    rows = [r for r in app.rows.values() if r.status != "input"]
    biggest = max(rows, key=lambda r: r.params)
    picks = [biggest.name, rows[len(rows) // 2].name, rows[-1].name]
    return list(dict.fromkeys(picks))


def panel_times(app: Workbench) -> dict[str, float]:
    samples: dict[str, list[float]] = {p: [] for p in PANELS}
    for name in probe_layers(app):
        app.show("layers")
        app.select(name)
        for panel in PANELS:
            start = time.perf_counter()
            app.show(panel)
            samples[panel].append(time.perf_counter() - start)
    if app.errors:
        raise RuntimeError(f"panels failed: {app.errors}")
    return {p: statistics.median(v) for p, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    models = [(stem, ROOT / "sample_models" / f"{stem}.keras") for stem in SAMPLES]
    resnet = ROOT / "benchmarks" / ".cache" / "resnet50.keras"
    if not resnet.exists():
        from benchmarks.inspect_resnet50 import build_models
        build_models()
    models.append(("resnet50", resnet))
    densenet = ROOT / "benchmarks" / ".cache" / "densenet121.keras"  # 428 layers: well past 200
    if not densenet.exists():
        import keras
        keras.applications.DenseNet121(weights=None).save(densenet)  # random weights: no download
    models.append(("densenet121", densenet))

    header = f"{'model':12} {'layers':>6} {'Session()':>10} {'Workbench()':>12} {'overhead':>9}  " + \
             "  ".join(f"{p:>9}" for p in PANELS)
    print(header)
    print("-" * len(header))
    for stem, path in models:
        repeat = args.repeat if stem in SAMPLES else max(1, min(args.repeat, 3))
        base, _ = median_time(lambda: Session(path), repeat)
        opened, app = median_time(lambda: Workbench(path), repeat)
        panels = panel_times(app)
        print(f"{stem:12} {len(app.rows):>6} {base * 1e3:>8.1f}ms {opened * 1e3:>10.1f}ms {opened - base:>8.3f}s  "
              + "  ".join(f"{panels[p] * 1e3:>7.1f}ms" for p in PANELS))
    print("\npanel columns: median first draw after selecting a layer (biggest, middle, last layer)")


if __name__ == "__main__":
    main()
