"""Shared fixtures: paths to the samples and to ../shared, and CI's rule that nothing may skip."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
SHARED = ROOT.parent / "shared"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (WORKBENCH_REQUIRE_ALL=1) a skipped test is a failure: every test must really run."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("WORKBENCH_REQUIRE_ALL") and report.skipped:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but CI requires every test to run: {reason}"


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"the shared reference folder is not at {SHARED}")
    return SHARED


def load_custom_layers():
    """Import sample_models/custom_layers.py (trusted code of ours) as a module."""
    spec = importlib.util.spec_from_file_location("custom_layers", SAMPLES / "custom_layers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_layers"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def dl4j_ready():
    """Java + Maven present and the DL4J harness built (skips, with the reason, where Java is absent)."""
    from workbench.check.dl4j_jvm import ensure_built, java_status

    reason = java_status()
    if reason is not None:
        pytest.skip(reason)
    ensure_built()
    return True


@pytest.fixture(scope="session")
def dl4j_reference(shared) -> Path:
    """``shared/dl4j-reference``: real DL4J-written files (skips when absent)."""
    path = shared / "dl4j-reference"
    if not path.is_dir():
        pytest.skip(f"reference files not found at {path}")
    return path
