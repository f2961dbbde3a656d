"""/dashboard in a real headless Chromium: the numbers on the page change while load runs.

Needs Debian's chromium (``apt-get install -y chromium``); skipped with a message when it is absent.
A screenshot is kept under ``artifacts/`` (git-ignored) as the test's artifact.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferopt.testing import FunctionModel

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1000,760",
    # Let the page's fetch and timers run for up to 4 s of page time before the DOM is taken.
    "--virtual-time-budget=4000",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); the dashboard test needs it")
    return found


def render(browser: str, url: str, profile: Path, *extra: str) -> str:
    result = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def tile(dom: str, name: str) -> str:
    found = re.search(rf'id="{name}">([^<]*)<', dom)
    assert found is not None, f"no #{name} on the page"
    return found.group(1)


def test_dashboard_numbers_change_under_load(start_gateway: Any, tmp_path: Path) -> None:
    browser = chromium()
    gateway = start_gateway(models={"gpt-4o-mini": FunctionModel(lambda request: "a short answer")})
    page = gateway.url + "/dashboard"

    idle = render(browser, page, tmp_path / "profile-idle", "--dump-dom")
    assert tile(idle, "rps") == "0.0" and tile(idle, "total") == "0"

    stop = threading.Event()

    def load() -> None:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
        with httpx.Client(base_url=gateway.openai_base_url) as http:
            while not stop.is_set():
                http.post("/chat/completions", json=body)
                time.sleep(0.01)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        time.sleep(2.5)  # the page reports complete seconds: let a few fill up
        busy = render(browser, page, tmp_path / "profile-busy", "--dump-dom")
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard.png"
        render(browser, page, tmp_path / "profile-shot", f"--screenshot={shot}")
    finally:
        stop.set()
        worker.join(timeout=10)
    assert float(tile(busy, "rps")) > 0
    assert int(tile(busy, "total")) > 0
    assert tile(busy, "p50").endswith(" ms") and tile(busy, "cost").startswith("$")
    assert "gpt-4o-mini" in busy  # the per-model table lists the model under load
    assert shot.is_file() and shot.stat().st_size > 10_000
