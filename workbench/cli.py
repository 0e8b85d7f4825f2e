"""The ``workbench`` command: ``inspect`` (and, as they land, ``convert`` and ``verify``).

Every subcommand is one call on the Python API; errors from the workbench print as one line
on stderr and exit 2 (``--debug`` shows the traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from workbench.errors import WorkbenchError

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and found a problem (e.g. a layer diverges)
EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Keras → DL4J migration workbench")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="list every layer of a Keras model (nothing in the file is run)")
    inspect.add_argument("model", help=".h5, .keras, or a .json architecture")
    inspect.add_argument("--weights", help="weights file for a .json architecture")
    inspect.add_argument("--json", action="store_true", help="print the inventory as JSON")
    inspect.set_defaults(handler=_cmd_inspect)

    convert = sub.add_parser("convert", help="write a DL4J model zip (never imports TensorFlow)")
    _model_args(convert)
    convert.add_argument("-o", "--output", help="the DL4J model zip to write")
    convert.add_argument("--json", dest="json_out", help="also (or only) write the configuration JSON here")
    convert.add_argument("--bundle", help="write a folder: model.zip, the generated Java layers (sources + jar) "
                                          "and a README on adding them to your DL4J project")
    convert.add_argument("--java", help="write the Java source of the whole model (DL4J builders, parameters "
                                        "loaded from .npy files) into this folder")
    convert.set_defaults(handler=_cmd_convert)

    verify = sub.add_parser("verify", help="compare every layer with Keras: NumPy reference and real DL4J")
    _model_args(verify)
    verify.add_argument("--inputs", help=".npz with the model inputs (keys 'input:<name>' or '<name>')")
    verify.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    verify.add_argument("--dl4j", action="store_true", help="also run the export in real DL4J on the JVM")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(handler=_cmd_verify)
    return parser


def _model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help=".h5, .keras, or a .json architecture")
    parser.add_argument("--weights", help="weights file for a .json architecture")
    parser.add_argument("--format", choices=("NHWC", "NCHW"), default="NHWC",
                        help="DL4J data format for convolutional layers (default NHWC)")
    parser.add_argument("--mapping", help="a JSON mapping file for layers no built-in mapper handles")
    parser.add_argument("--custom-objects", help="your Python file defining the model's custom Keras classes "
                                                 "(needed to run Keras, and to name a .keras file's custom weights)")


def _session(args: argparse.Namespace, *, keep_steps: bool = True):
    from workbench.session import Session
    session = Session(args.model, weights=args.weights, cnn_format=args.format,
                      custom_objects=getattr(args, "custom_objects", None), keep_steps=keep_steps)
    if args.mapping:
        session.load_mapping(args.mapping)
    return session


def _cmd_convert(args: argparse.Namespace) -> int:
    if not (args.output or args.json_out or args.bundle or args.java):
        raise WorkbenchError("nothing to write", expected="-o OUT.zip, --json OUT.json, --bundle DIR or --java DIR",
                             received="none of them")
    session = _session(args, keep_steps=False)  # nobody looks at intermediate tensors here
    conv = session.conversion
    kind = "MultiLayerNetwork" if conv.is_chain else "ComputationGraph"
    generated = sorted({n.mapped.java_class for n in conv.nodes if n.mapped.java_class})
    if args.output:
        session.export_zip(args.output)
        print(f"wrote {args.output}: {kind}, {len(conv.nodes)} layers/vertices, {conv.n_params:,} parameters")
        if generated and not args.bundle:
            print(f"note: DL4J needs the generated classes {', '.join(generated)} on its classpath to load it; "
                  "write them with --bundle DIR")
    if args.bundle:
        folder = session.export_bundle(args.bundle)
        print(f"wrote {folder}: model.zip ({kind}), " + (f"generated layers {', '.join(generated)}, " if generated
                                                           else "") + "README.md")
    if args.java:
        print(f"wrote {session.export_java(args.java)}: Java source, params/*.npy and README.md")
    if args.json_out:
        session.export_json(args.json_out)
        print(f"wrote {args.json_out}")
    return EXIT_OK


def _load_inputs(path: str | None) -> dict | None:
    if path is None:
        return None
    import zipfile

    import numpy as np
    try:
        with np.load(path) as data:
            return {key.split(":", 1)[1] if key.startswith("input:") else key: data[key]
                    for key in data.files if not key.startswith("output:")}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError) as exc:
        raise WorkbenchError("the inputs file cannot be read", file=path,
                             expected=".npz with arrays named 'input:<name>' or '<name>'",
                             received=f"{type(exc).__name__}: {exc}") from None


def _cmd_verify(args: argparse.Namespace) -> int:
    session = _session(args)
    report = session.verify(_load_inputs(args.inputs), dl4j=args.dl4j, atol=args.atol)
    if args.json:
        json.dump(report_json(report), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_report(report))
    return EXIT_OK if report.passed else EXIT_FAILED


def _diff_json(d) -> Any:
    return None if d is None else {"max_abs": d.max_abs, "max_rel": d.max_rel, "shape": list(d.shape),
                                   "keras_shape": list(d.keras_shape)}


def report_json(report) -> dict[str, Any]:
    return {"passed": report.passed, "atol": report.atol, "first_divergence": report.first_divergence,
            "dl4j_error": report.dl4j_error, "seconds": report.seconds,
            "layers": [{"name": c.name, "class_name": c.class_name, "status": c.status,
                        "isolated": _diff_json(c.isolated), "propagated": _diff_json(c.propagated),
                        "dl4j": _diff_json(c.dl4j), "note": c.note} for c in report.layers]}


def render_report(report) -> str:
    """The verification report as a table: max |error| per layer, isolated / propagated / real DL4J."""
    def cell(d) -> str:
        if d is None:
            return "-"
        if not d.shapes_match:
            return f"shape {d.shape}≠{d.keras_shape}"
        return f"{d.max_abs:.2e}"

    rows = [("layer", "class", "isolated", "propagated", "real DL4J", "status")]
    first = report.first_divergence
    for c in report.layers:
        status = c.status + ("  ← first divergence" if c.name == first else "")
        rows.append((c.name, c.class_name, cell(c.isolated), cell(c.propagated), cell(c.dl4j), status))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if report.dl4j_error:
        lines.append(f"real DL4J could not run the export: {report.dl4j_error}")
    verdict = "PASSED" if report.passed else f"FAILED (first diverging layer: {first})" if first else "FAILED"
    lines.append(f"{verdict}: max |error| within {report.atol:g} at every compared layer" if report.passed
                 else verdict)
    return "\n".join(lines) + "\n"


def _cmd_inspect(args: argparse.Namespace) -> int:
    from workbench.inventory import inventory
    from workbench.keras_io import load_model

    inv = inventory(load_model(args.model, weights=args.weights))
    if args.json:
        json.dump(inv, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_table(inv))
    for problem in inv["problems"]:
        print(f"workbench: error: {problem}", file=sys.stderr)
    return EXIT_BAD_INPUT if inv["problems"] else EXIT_OK


def render_table(inv: dict[str, Any]) -> str:
    """The inventory as a fixed-width table, one row per layer (nested layers indented)."""
    m = inv["model"]
    lines = [f"{m['path']}: {m['class_name']} '{m['name']}', {m['format']} written by Keras {m['keras_version']}",
             f"inputs: {', '.join(m['inputs'])}    outputs: {', '.join(m['outputs'])}    "
             f"params: {m['params']:,}", ""]
    rows = [("layer", "class", "output shape", "params", "inbound", "status")]

    def add(records: list[dict[str, Any]], depth: int) -> None:
        for r in records:
            shape = "?" if r["output_shape"] is None else _shape_text(r["output_shape"])
            cls = r["class_name"] + (" (custom)" if r["custom"] else "")
            rows.append(("  " * depth + r["name"], cls, shape, f"{r['params']:,}", ", ".join(r["inbound"]),
                         r["status"]))
            add(r.get("layers", []), depth + 1)

    add(inv["layers"], 0)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _shape_text(shape: Any) -> str:
    if shape and isinstance(shape[0], list):
        return " | ".join(_shape_text(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except WorkbenchError as err:
        if args.debug:
            raise
        print(f"workbench: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
