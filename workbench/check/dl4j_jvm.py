"""Run real DL4J 1.0.0-M2.1 on the JVM: load exported zips, import Keras files, dump activations.

The Java side is ``java/dl4j-harness`` (``workbench.harness.Main``), built once with Maven and cached
in its ``target/`` folder. Each call starts one JVM; :func:`run_jobs` runs many models in one JVM
to pay the ND4J start-up once.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import RuntimeUnavailable, WorkbenchError

__all__ = [
    "DL4JRun",
    "DL4JJob",
    "HarnessError",
    "java_status",
    "ensure_built",
    "harness_classpath",
    "run_dl4j",
    "run_keras_import",
    "run_java_source",
    "run_jobs",
]

HARNESS_DIR = Path(
    os.environ.get("WORKBENCH_DL4J_HARNESS") or Path(__file__).resolve().parents[2] / "java" / "dl4j-harness"
)
MAIN_CLASS = "workbench.harness.Main"
INSTALL_HINT = "apt-get install openjdk-17-jdk-headless maven"
MIN_JAVA = 11
DEFAULT_TIMEOUT = 900.0
BUILD_TIMEOUT = 3600.0
JVM_OPTIONS = ("-Djava.awt.headless=true",)
# One model per JVM: C1 only + serial GC start faster (~1.3 s instead of ~1.9 s for a small CNN);
# a batch of jobs runs faster with the full JIT, so run_jobs leaves these out.
SINGLE_RUN_OPTIONS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")

_EXIT_OK, _EXIT_HARNESS, _EXIT_DL4J = 0, 2, 3
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class HarnessError(WorkbenchError):
    """The DL4J harness could not be built or did not run (not a verdict on the model)."""


@dataclass(frozen=True)
class DL4JRun:
    """Result of one model run in real DL4J.

    Attributes:
        outputs: activation per layer/vertex name, in forward order (MultiLayerNetwork: ``"input"`` first).
        error: DL4J's exception class and message when it could not load, import or run the model.
        seconds: wall time of the Java process (for :func:`run_jobs`: this job's time inside the shared JVM).
        configuration: the network's configuration JSON as this DL4J serializes it (None when it did not run).
    """

    outputs: dict[str, np.ndarray] = field(repr=False)
    error: str | None
    seconds: float
    configuration: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DL4JJob:
    """One job for :func:`run_jobs`.

    Attributes:
        model: a ModelSerializer zip (mode ``"run"``), a Keras HDF5 file (mode ``"keras-import"``) or the
            parameter folder of generated Java source (mode ``"run-source"``).
        inputs: input arrays by input name (graph input names; any single name for a MultiLayerNetwork).
        mode: ``"run"``, ``"keras-import"`` or ``"run-source"``.
        class_name: run-source: the generated class (``workbench.generated.ConvertedModel``).
        classes: run-source: the class folder or jar holding it (loaded in its own class loader).
    """

    model: str | os.PathLike[str]
    inputs: Mapping[str, Any]
    mode: str = "run"
    class_name: str | None = None
    classes: str | os.PathLike[str] | None = None


# ----------------------------------------------------------------------------------------- tools


@lru_cache(maxsize=8)
def _java_major(java: str) -> int | None:
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr.decode("utf-8", "replace"))
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" -> 8


def java_status() -> str | None:
    """Say whether Java (11+) and Maven are available for real-DL4J checks.

    Returns:
        None when both are on PATH, else one line naming what is missing and how to install it.
    """
    java, mvn = shutil.which("java"), shutil.which("mvn")
    problems = []
    if java is None:
        problems.append("no java on PATH")
    else:
        major = _java_major(java)
        if major is None:
            problems.append(f"{java} -version did not run")
        elif major < MIN_JAVA:
            problems.append(f"java {major} found, {MIN_JAVA}+ needed")
    if mvn is None:
        problems.append("no mvn on PATH")
    if not problems:
        return None
    return f"Java 17 and Maven are needed for real-DL4J checks ({'; '.join(problems)}): {INSTALL_HINT}"


def _jar() -> Path:
    return HARNESS_DIR / "target" / "dl4j-harness.jar"


def _lib() -> Path:
    return HARNESS_DIR / "target" / "lib"


def _is_stale(jar: Path) -> bool:
    if not jar.is_file() or not _lib().is_dir() or not any(_lib().glob("*.jar")):
        return True
    built = jar.stat().st_mtime
    sources = [HARNESS_DIR / "pom.xml", *(HARNESS_DIR / "src").rglob("*.java")]
    return any(p.stat().st_mtime > built for p in sources if p.is_file())


def ensure_built(*, quiet: bool = True) -> Path:
    """Build the Java harness with Maven unless ``target/dl4j-harness.jar`` is up to date.

    Args:
        quiet: pass ``-q`` to Maven (its output is kept for the error message either way).

    Returns:
        The harness jar (its dependencies are in ``target/lib``).

    Raises:
        RuntimeUnavailable: Java or Maven is missing.
        HarnessError: the Maven build failed (the message ends with Maven's last lines).
    """
    jar = _jar()
    if not _is_stale(jar):
        return jar
    status = java_status()
    if status is not None:
        raise RuntimeUnavailable("cannot build the DL4J harness", hint=status)
    pom = HARNESS_DIR / "pom.xml"
    if not pom.is_file():
        raise HarnessError("DL4J harness sources not found", file=pom)
    target = HARNESS_DIR / "target"
    target.mkdir(exist_ok=True)
    import fcntl  # POSIX only, like the rest of the JVM tooling here

    with open(target / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building right now
        if not _is_stale(jar):
            return jar
        shutil.rmtree(_lib(), ignore_errors=True)  # copy-dependencies never removes jars an older pom pulled
        cmd = [shutil.which("mvn") or "mvn", "-B", "-Dstyle.color=never"]
        cmd += ["-q"] if quiet else []
        cmd += ["package"]
        try:
            proc = subprocess.run(
                cmd, cwd=HARNESS_DIR, stdin=subprocess.DEVNULL, capture_output=True, timeout=BUILD_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            raise HarnessError(
                "Maven build of the DL4J harness timed out", file=pom, received=f"{BUILD_TIMEOUT:.0f} s"
            ) from None
        if proc.returncode != 0 or not jar.is_file():
            log = _ANSI.sub("", (proc.stdout + proc.stderr).decode("utf-8", "replace"))
            tail = "\n".join(line for line in log.splitlines() if line.strip())
            tail = "\n".join(tail.splitlines()[-25:])
            raise HarnessError(
                "Maven build of the DL4J harness failed",
                file=pom,
                received=f"exit code {proc.returncode}:\n{tail}",
                hint=f"run 'mvn -B package' in {HARNESS_DIR} for the full log",
            )
        os.utime(jar)  # newer than every source even if Maven kept an up-to-date jar
    return jar


def harness_classpath(extra_jars: Iterable[str | os.PathLike[str]] = ()) -> str:
    """The ``-cp`` value: harness jar, its ``lib/*`` (expanded by Java itself), then user jars.

    Args:
        extra_jars: further jars (e.g. custom layer classes) appended to the class path.

    Returns:
        The class path string.
    """
    parts = [str(_jar()), str(_lib() / "*"), *(os.fspath(j) for j in extra_jars)]
    return os.pathsep.join(parts)


# ----------------------------------------------------------------------------------------- running


def _write_inputs(folder: Path, inputs: Mapping[str, Any], tag: str) -> dict[str, str]:
    files = {}
    for i, (name, value) in enumerate(inputs.items()):
        if not isinstance(name, str) or not name:
            raise HarnessError("input names must be non-empty strings", received=repr(name))
        path = folder / f"{tag}in{i}.npy"
        np.save(path, np.ascontiguousarray(np.asarray(value, dtype=np.float32)))
        files[name] = str(path)
    return files


def _java_cmd(
    extra_jars: Iterable[str | os.PathLike[str]], args: Sequence[str], folder: Path, options: Sequence[str] = ()
) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise RuntimeUnavailable("cannot run DL4J", hint=java_status() or f"no java on PATH: {INSTALL_HINT}")
    crash_log = f"-XX:ErrorFile={folder / 'hs_err_pid%p.log'}"  # not in the caller's working directory
    return [java, *JVM_OPTIONS, *options, crash_log, "-cp", harness_classpath(extra_jars), MAIN_CLASS, *args]


def _crash_summary(folder: Path) -> str:
    """The native frame and first Java frame of a JVM crash log in ``folder`` ('' when none)."""
    for log in folder.glob("hs_err_pid*.log"):
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        native = next((ln.strip("# ").strip() for ln in lines if ln.startswith("# C ") or ln.startswith("# J ")), "")
        java_frames = [ln.strip() for ln in lines if ln.startswith("j  ") or ln.startswith("J ")]
        parts = [p for p in (native, java_frames[4] if len(java_frames) > 4 else "") if p]
        return "JVM crashed in native code: " + "; ".join(parts) if parts else "JVM crashed"
    return ""


def _run_java(cmd: list[str], timeout: float, folder: Path) -> tuple[subprocess.CompletedProcess[bytes], float]:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        crash = _crash_summary(folder)
        raise HarnessError(
            "DL4J harness timed out",
            received=f"{timeout:.0f} s" + (f"; {crash}" if crash else ""),
            hint="a native ND4J crash can leave the JVM hanging" if crash else "raise the timeout",
        ) from None
    return proc, time.perf_counter() - t0


def _stderr_tail(proc: subprocess.CompletedProcess[bytes], lines: int = 1) -> str:
    text = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return " | ".join(text[-lines:]) if text else f"exit code {proc.returncode}, no message"


def _error_text(err: Mapping[str, Any]) -> str:
    return f"{err.get('exception', 'unknown')}: {err.get('message', '')}"


def _read_result(out: Path) -> tuple[dict[str, np.ndarray] | None, str | None, dict[str, Any] | None]:
    """(outputs, error text, raw error) from a job's output directory; (None, None, None) if empty."""
    err_file = out / "error.json"
    if err_file.is_file():
        err = json.loads(err_file.read_text(encoding="utf-8"))
        return {}, _error_text(err), err
    listing = out / "outputs.json"
    if not listing.is_file():
        return None, None, None
    outputs: dict[str, np.ndarray] = {}
    for entry in json.loads(listing.read_text(encoding="utf-8")):
        name = entry["name"]
        key = name if name not in outputs else f"{name}#{entry['index']}"
        if entry.get("file") is None:
            continue
        outputs[key] = np.load(out / entry["file"], allow_pickle=False)
    return outputs, None, None


def _configuration_in(out: Path) -> str | None:
    f = out / "configuration.json"
    return f.read_text(encoding="utf-8") if f.is_file() else None


def _seconds_in(out: Path, default: float) -> float:
    for name in ("run.json", "error.json"):
        f = out / name
        if f.is_file():
            try:
                return float(json.loads(f.read_text(encoding="utf-8")).get("seconds", default))
            except (ValueError, TypeError):
                return default
    return default


def _check_command_line_inputs(inputs: Mapping[str, Any], file: Path) -> None:
    """Inputs passed as NAME=FILE arguments: at least one, and no '=' in a name."""
    if not inputs:
        raise HarnessError("at least one input array is needed", file=file)
    bad = [n for n in inputs if "=" in str(n)]
    if bad:
        raise HarnessError("input names cannot contain '=' on the command line; use run_jobs", received=bad)


def _run_single(mode: str, model: str | os.PathLike[str], inputs: Mapping[str, Any],
                extra_jars: Iterable[str | os.PathLike[str]], timeout: float) -> DL4JRun:
    model_path = Path(model)
    if not model_path.is_file():
        raise HarnessError("model file not found", file=model_path)
    return _run_harness([mode, "--model", str(model_path.resolve())], inputs, extra_jars, timeout, model_path)


def _run_harness(head: list[str], inputs: Mapping[str, Any], extra_jars: Iterable[str | os.PathLike[str]],
                 timeout: float, about: Path) -> DL4JRun:
    """One harness command (``head`` + ``--input NAME=FILE``... ``--out DIR``) in its own JVM."""
    _check_command_line_inputs(inputs, about)
    ensure_built()
    with tempfile.TemporaryDirectory(prefix="dl4j-run-") as tmp:
        folder = Path(tmp)
        args = list(head)
        for name, path in _write_inputs(folder, inputs, "").items():
            args += ["--input", f"{name}={path}"]
        out = folder / "out"
        args += ["--out", str(out)]
        proc, seconds = _run_java(_java_cmd(extra_jars, args, folder, SINGLE_RUN_OPTIONS), timeout, folder)
        return _single_result(proc, out, folder, about, seconds)


def _single_result(proc: subprocess.CompletedProcess[bytes], out: Path, folder: Path, model_path: Path,
                   seconds: float) -> DL4JRun:
    if proc.returncode == _EXIT_OK:
        outputs, _, _ = _read_result(out)
        if outputs is None:
            raise HarnessError("DL4J harness wrote no outputs.json", file=model_path, received=_stderr_tail(proc, 5))
        return DL4JRun(outputs=outputs, error=None, seconds=seconds, configuration=_configuration_in(out))
    if proc.returncode == _EXIT_DL4J and (out / "error.json").is_file():
        _, error, _ = _read_result(out)
        return DL4JRun(outputs={}, error=error, seconds=seconds)
    raise HarnessError(
        "DL4J harness failed", file=model_path, received=_crash_summary(folder) or _stderr_tail(proc, 5)
    )


def run_dl4j(
    zip_path: str | os.PathLike[str],
    inputs: Mapping[str, np.ndarray],
    *,
    extra_jars: Iterable[str | os.PathLike[str]] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> DL4JRun:
    """Load a ModelSerializer zip in real DL4J and return every layer's inference activation.

    Args:
        zip_path: the model zip.
        inputs: input arrays by name (written as float32 .npy; cast to the network's data type).
        extra_jars: jars to add to the class path (e.g. custom layers).
        timeout: seconds before the Java process is killed.

    Returns:
        The activations, or ``error`` set when DL4J refused the model.

    Raises:
        RuntimeUnavailable: Java/Maven missing.
        HarnessError: the harness itself failed (bad input names, crash, timeout).
    """
    return _run_single("run", zip_path, inputs, extra_jars, timeout)


def run_keras_import(
    h5_path: str | os.PathLike[str],
    inputs: Mapping[str, np.ndarray],
    *,
    extra_jars: Iterable[str | os.PathLike[str]] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> DL4JRun:
    """Import a Keras HDF5 file with DL4J's own KerasModelImport and run it.

    Args:
        h5_path: the Keras model (``.h5``); Sequential models import as MultiLayerNetwork.
        inputs: input arrays by name, in the layout DL4J expects.
        extra_jars: jars to add to the class path.
        timeout: seconds before the Java process is killed.

    Returns:
        The activations, or ``error`` with DL4J's exception when it cannot import the file.

    Raises:
        RuntimeUnavailable: Java/Maven missing.
        HarnessError: the harness itself failed.
    """
    return _run_single("keras-import", h5_path, inputs, extra_jars, timeout)


def run_java_source(
    class_name: str,
    classes_path: str | os.PathLike[str],
    params_dir: str | os.PathLike[str],
    inputs: Mapping[str, np.ndarray],
    *,
    extra_jars: Iterable[str | os.PathLike[str]] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> DL4JRun:
    """Build a network with generated Java source (``class_name.build(params_dir)``) and run it.

    Args:
        class_name: the compiled class, e.g. ``workbench.generated.ConvertedModel``.
        classes_path: its class folder or jar (``workbench.export.java_source.compile_java``), put on the
            class path after the harness jars.
        params_dir: the folder of ``<layer>__<key>.npy`` files ``build`` reads.
        inputs: input arrays by name, in DL4J's layouts.
        extra_jars: further jars (e.g. custom layer classes).
        timeout: seconds before the Java process is killed.

    Returns:
        The activations (as :func:`run_dl4j`), or ``error`` set when ``build`` or DL4J failed.

    Raises:
        RuntimeUnavailable: Java/Maven missing.
        HarnessError: the harness itself failed (class not found, bad inputs, crash, timeout).
    """
    params = Path(params_dir)
    if not params.is_dir():
        raise HarnessError("parameter folder not found", file=params)
    if not Path(classes_path).exists():
        raise HarnessError("compiled classes not found", file=classes_path)
    head = ["run-source", "--class", class_name, "--params", str(params.resolve())]
    return _run_harness(head, inputs, [Path(classes_path).resolve(), *extra_jars], timeout, params)


def _as_job(job: DL4JJob | Mapping[str, Any]) -> DL4JJob:
    if isinstance(job, DL4JJob):
        return job
    try:
        return DL4JJob(model=job["model"], inputs=job["inputs"], mode=job.get("mode", "run"),
                       class_name=job.get("class_name"), classes=job.get("classes"))
    except (KeyError, TypeError, AttributeError):
        raise HarnessError("a job needs 'model' and 'inputs' (and optional 'mode')", received=repr(job)[:200]) from None


def run_jobs(
    jobs: Sequence[DL4JJob | Mapping[str, Any]],
    *,
    extra_jars: Iterable[str | os.PathLike[str]] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> list[DL4JRun]:
    """Run several models in one JVM (ND4J start-up is paid once).

    Args:
        jobs: :class:`DL4JJob` objects or dicts ``{"mode", "model", "inputs"}`` (run-source jobs also
            ``"class_name"`` and ``"classes"``).
        extra_jars: jars to add to the class path.
        timeout: seconds for the whole batch.

    Returns:
        One :class:`DL4JRun` per job, in order; a job DL4J refused has ``error`` set, and a job the
        JVM never finished (crash) has an ``error`` saying so.

    Raises:
        RuntimeUnavailable: Java/Maven missing.
        HarnessError: the batch could not start, or a job was malformed (e.g. wrong input names).
    """
    parsed = [_as_job(j) for j in jobs]
    if not parsed:
        return []
    for job in parsed:
        if job.mode not in ("run", "keras-import", "run-source"):
            raise HarnessError("unknown job mode", expected="run, keras-import or run-source", received=job.mode)
        if job.mode == "run-source":
            if not job.class_name or not Path(job.model).is_dir():
                raise HarnessError("a run-source job needs class_name and its parameter folder as model",
                                   file=job.model, received=job.class_name)
        elif not Path(job.model).is_file():
            raise HarnessError("model file not found", file=job.model)
    ensure_built()
    with tempfile.TemporaryDirectory(prefix="dl4j-jobs-") as tmp:
        folder = Path(tmp)
        spec, outs = [], []
        for i, job in enumerate(parsed):
            out = folder / f"job{i:04d}"
            outs.append(out)
            spec.append({
                "mode": job.mode,
                "model": str(Path(job.model).resolve()),
                "inputs": _write_inputs(folder, job.inputs, f"job{i:04d}_"),
                "out": str(out),
                **({"class": job.class_name, "classes": str(Path(job.classes).resolve()) if job.classes else None}
                   if job.mode == "run-source" else {}),
            })
        jobs_file = folder / "jobs.json"
        jobs_file.write_text(json.dumps(spec), encoding="utf-8")
        cmd = _java_cmd(extra_jars, ["jobs", "--file", str(jobs_file)], folder)
        proc, seconds = _run_java(cmd, timeout, folder)
        finished = [(o / "run.json").is_file() or (o / "error.json").is_file() for o in outs]
        if proc.returncode != _EXIT_OK and not any(finished):
            raise HarnessError("DL4J harness failed", received=_crash_summary(folder) or _stderr_tail(proc, 5))
        results = []
        for i, out in enumerate(outs):
            outputs, error, raw = _read_result(out)
            if raw is not None and raw.get("stage") == "harness":
                raise HarnessError(f"job {i} was rejected by the harness", file=parsed[i].model, received=error)
            if outputs is None:
                outputs, error = {}, (
                    f"HarnessCrash: the JVM ended (exit code {proc.returncode}) before job {i} finished: "
                    f"{_crash_summary(folder) or _stderr_tail(proc, 3)}"
                )
            results.append(DL4JRun(outputs=outputs, error=error, seconds=_seconds_in(out, seconds),
                                   configuration=_configuration_in(out) if error is None else None))
        return results
