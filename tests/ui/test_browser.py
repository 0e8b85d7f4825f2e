"""The Workbench in a real JupyterLab, driven through headless Chromium as a person would.

JupyterLab runs on 127.0.0.1 (a free port, a random token, settings and runtime files in a temporary
folder, the news/update pop-up and autosave switched off) on a copy of notebooks/; Playwright opens notebooks/01_quickstart.ipynb, runs
every cell, then uses the widgets: picks a layer, maps the custom layer, looks at its weights, runs
verify and export, and checks what the page shows. Screenshots go to test-artifacts/screenshots/.

Needs Debian's Chromium at /usr/bin/chromium (``make browser`` installs it); skipped, saying so, without.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "screenshots"
NOTEBOOK = "notebooks/01_quickstart.ipynb"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# No "Would you like to get notified about official Jupyter news?" toast over the widgets.
SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
            # the notebooks run here must not be saved back with their outputs
            "@jupyterlab/docmanager-extension:plugin": {"autosave": False}}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.tensorflow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (run `make browser`)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as exc:  # noqa: BLE001 - the server may not answer yet
            last = exc
        time.sleep(0.5)
    raise TimeoutError(f"{what} (after {timeout:.0f} s; last error: {last!r})")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on loopback: (base URL, token, api(path) helper).

    It serves a copy of notebooks/ next to a link to sample_models/, so nothing the
    browser does (running cells, saving) touches the repository's notebooks.
    """
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    shutil.copytree(ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (root / "sample_models").symlink_to(ROOT / "sample_models")
    (tmp / "app-settings").mkdir()
    (tmp / "app-settings" / "overrides.json").write_text(json.dumps(SETTINGS))
    token = "wb-" + os.urandom(12).hex()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "user-settings"), JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               TF_CPP_MIN_LOG_LEVEL="3")
    log = open(tmp / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", *(["--allow-root"] if os.geteuid() == 0 else []),
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.app_settings_dir={tmp / 'app-settings'}", f"--LabApp.user_settings_dir={tmp / 'user-settings'}",
         f"--LabApp.workspaces_dir={tmp / 'workspaces'}", "--LabApp.extension_manager=readonly"],
        stdout=log, stderr=subprocess.STDOUT, env=env)

    def api(path: str):
        request = urllib.request.Request(base + path, headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    try:
        wait_until(lambda: api("/api/status"), 90, "JupyterLab did not start")
        yield base, token, api
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.copy(tmp / "lab.log", SHOTS / "lab.log") if SHOTS.is_dir() else None


def kernels_idle(api) -> bool:
    kernels = api("/api/kernels")
    return bool(kernels) and all(k["execution_state"] == "idle" for k in kernels)


def wait_for_image(page, selector: str, timeout: float = 60_000) -> dict:
    """Wait until the image is shown and its PNG has loaded; its size on the page."""
    page.wait_for_function(
        "s => { const e = document.querySelector(s);"
        " return e && e.complete && e.naturalWidth > 0 && getComputedStyle(e).display !== 'none'; }",
        arg=selector, timeout=timeout)
    return page.locator(selector).bounding_box()


def option_index(page, text: str) -> int:
    """The index of the Layers list option whose layer name is ``text``."""
    labels = page.locator(".wb-layer-list select option").all_inner_texts()
    for i, label in enumerate(labels):
        if label.replace("\u00a0", " ").split()[1] == text:
            return i
    raise AssertionError(f"no option for {text!r} in {labels}")


def option_text(page, name: str) -> str:
    return page.locator(".wb-layer-list select option").nth(option_index(page, name)).inner_text().replace("\u00a0", " ")


def open_and_run(page, base: str, token: str, api, notebook: str):
    """Open a notebook, run every cell, wait for the kernel; the last Workbench on the page."""
    page.goto(f"{base}/lab/tree/{notebook}?token={token}&reset")  # reset: only this notebook open
    page.wait_for_selector(".jp-Notebook", timeout=90_000)
    wait_until(lambda: kernels_idle(api), 90, "the kernel did not start")
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    try:
        page.locator(".wb-app").last.wait_for(timeout=120_000)
    except Exception:
        page.screenshot(path=str(SHOTS / f"failed-{Path(notebook).stem}.png"))
        raise
    wait_until(lambda: kernels_idle(api), 300, "the notebook did not finish")
    app = page.locator(".wb-app").last
    app.scroll_into_view_if_needed()
    return app


def test_quickstart_workbench_in_jupyterlab(lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base, token, api = lab
    SHOTS.mkdir(parents=True, exist_ok=True)
    export_dir = tmp_path / "exported"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}&reset")
            page.wait_for_selector(".jp-Notebook", timeout=90_000)
            wait_until(lambda: kernels_idle(api), 90, "the kernel did not start")
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            app = page.locator(".wb-app")
            app.wait_for(timeout=120_000)
            wait_until(lambda: kernels_idle(api), 300, "the notebook did not finish")
            assert not page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] "
                                    ":text('Traceback')").count()
            app.scroll_into_view_if_needed()

            # Layers: every layer with its status; the custom one needs a mapping.
            expect(page.locator(".wb-layer-list select option")).to_have_count(4)
            assert option_text(page, "my_activation").rstrip().endswith("needs a mapping")
            assert option_text(page, "dense").split()[1:4] == ["dense", "Dense", "(None,"]
            expect(page.locator(".wb-layers-selected .wb-badge")).to_have_text("needs a mapping")
            app.screenshot(path=str(SHOTS / "01-layers.png"))

            # Mapping: map MyActivation by an expression.
            app.locator(".lm-TabBar-tab", has_text="Mapping").click()
            expect(page.locator(".wb-mapping-status")).to_contain_text("no DL4J mapping for custom layer")
            page.locator(".wb-mapping-expression input").fill("relu(x) * sigmoid(x)")
            page.locator(".wb-mapping-apply").click()
            expect(page.locator(".wb-mapping-result")).to_contain_text("applied", timeout=30_000)
            expect(page.locator(".wb-mapping-status .wb-badge")).to_have_text("mapped")
            app.screenshot(path=str(SHOTS / "02-mapping.png"))

            # Layers → select dense; Weights shows its kernel before and after.
            app.locator(".lm-TabBar-tab", has_text="Layers").click()
            page.locator(".wb-layer-list select").select_option(index=option_index(page, "dense"))
            expect(page.locator(".wb-layers-selected")).to_contain_text("dense")
            app.locator(".lm-TabBar-tab", has_text="Weights").click()
            expect(page.locator(".wb-weights-steps_doc")).to_contain_text("Dense kernel", timeout=30_000)
            for image in ("steps", "histogram", "difference"):
                box = wait_for_image(page, f"img.wb-weights-{image}")
                assert box["width"] > 200 and box["height"] > 100, (image, box)
            assert page.locator(".wb-weights-param select option:checked").inner_text().replace("\u00a0", " ").startswith(
                "dense: W")
            app.screenshot(path=str(SHOTS / "03-weights.png"))

            # Verify with the NumPy reference: the chart appears and every layer is verified.
            app.locator(".lm-TabBar-tab", has_text="Verify").click()
            page.locator(".wb-verify-run_reference").click()
            expect(page.locator(".wb-verify-summary")).to_contain_text("every layer within atol", timeout=180_000)
            box = wait_for_image(page, "img.wb-verify-chart")
            assert box["width"] > 300 and box["height"] > 150, box
            wait_for_image(page, "img.wb-verify-outputs")
            app.screenshot(path=str(SHOTS / "04-verify.png"))
            app.locator(".lm-TabBar-tab", has_text="Layers").click()
            assert option_text(page, "my_activation").rstrip().endswith("verified")

            # Export: zip + configuration JSON into a folder typed in the panel.
            app.locator(".lm-TabBar-tab", has_text="Export").click()
            page.locator(".wb-export-folder input").fill(str(export_dir))
            page.locator(".wb-export-export").click()
            written = page.locator(".wb-written")
            expect(written).to_have_count(2, timeout=60_000)
            assert written.all_inner_texts() == [str(export_dir / "seed.zip"),
                                                 str(export_dir / "seed.configuration.json")]
            app.screenshot(path=str(SHOTS / "05-export.png"))
            app.locator(".lm-TabBar-tab", has_text="Inspector").click()
            expect(page.locator(".wb-inspector-dl4j")).to_contain_text("DenseLayer")
            app.screenshot(path=str(SHOTS / "07-inspector.png"))
            page.screenshot(path=str(SHOTS / "06-page.png"), full_page=True)
        finally:
            browser.close()
    assert (export_dir / "seed.zip").is_file() and (export_dir / "seed.configuration.json").is_file()


def test_convolution_notebook_kernel_slices_and_the_flatten_permutation(lab):
    """02: the Workbench on cnn.keras in NCHW: a 4-D kernel sliced by sliders, the Dense rows permuted."""
    from playwright.sync_api import expect, sync_playwright

    base, token, api = lab
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            app = open_and_run(page, base, token, api, "notebooks/02_convolution.ipynb")
            expect(app.locator(".wb-header-cnn_format button.mod-active")).to_have_text("NCHW")
            app.locator(".wb-header-layer select").select_option("conv2d_1")
            app.locator(".lm-TabBar-tab", has_text="Weights").click()
            expect(app.locator(".wb-weights-steps_doc")).to_contain_text("conv_kernel_to_oihw", timeout=30_000)
            sliders = app.locator(".wb-weights-sliders .widget-slider")
            expect(sliders).to_have_count(2)
            wait_for_image(page, ".wb-panel-weights img.wb-weights-steps")
            before = app.locator("img.wb-weights-steps").get_attribute("src")
            handle = app.locator(".wb-weights-sliders .widget-slider").nth(1).locator(".noUi-handle")
            handle.focus()
            page.keyboard.press("ArrowRight")  # kw: 0 → 1
            page.wait_for_function(
                "([sel, old]) => { const e = document.querySelector(sel); return e && e.src !== old && e.naturalWidth > 0; }",
                arg=["img.wb-weights-steps", before], timeout=30_000)
            app.screenshot(path=str(SHOTS / "11-cnn-kernel.png"))
            kernel_src = app.locator("img.wb-weights-steps").get_attribute("src")
            app.locator(".wb-header-layer select").select_option("dense")
            expect(app.locator(".wb-weights-steps_doc")).to_contain_text("flatten_rows_hwc_to_chw", timeout=30_000)
            assert app.locator("img.wb-weights-steps").get_attribute("src") != kernel_src  # redrawn with the text
            wait_for_image(page, ".wb-panel-weights img.wb-weights-steps")
            wait_for_image(page, ".wb-panel-weights img.wb-weights-difference")
            app.screenshot(path=str(SHOTS / "12-cnn-dense-rows.png"))
            app.locator(".lm-TabBar-tab", has_text="Verify").click()
            app.locator(".wb-verify-run_reference").click()
            expect(app.locator(".wb-verify-summary")).to_contain_text("every layer within atol", timeout=180_000)
            wait_for_image(page, ".wb-panel-verify img.wb-verify-outputs")
            app.screenshot(path=str(SHOTS / "13-cnn-verify.png"))
        finally:
            browser.close()
