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
    return parser


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
