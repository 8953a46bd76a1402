"""Real-browser tests' equipment: a gateway process on the test Redis, headless Chromium driven
through chromedriver (the Debian packages), screenshots under ``test-artifacts/ui/``."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from redtask.broker.embedded import free_port
from tests.gateway.ui.helpers import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get install -y --no-install-recommends chromium chromium-driver"
ARTIFACTS = ROOT / "test-artifacts" / "ui"
DESKTOP = (1280, 900)
PHONE = (390, 844)
GATEWAY = "from redtask.gateway.server import serve; from redtask.broker.settings import Settings"
USER, PASSWORD = "alice", "secret"


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@contextmanager
def gateway(redis_url: str, namespace: str, auth: bool = False) -> Iterator[str]:
    """A gateway process (``redtask.gateway.server.serve``) on the test Redis; yields its URL
    and deletes the namespace's keys afterwards."""
    port = free_port()
    env = {**os.environ, "REDTASK_REDIS_URL": redis_url, "REDTASK_NAMESPACE": namespace}
    if auth:
        env |= {"REDTASK_AUTH_ENABLED": "true", "REDTASK_AUTH_USERS": f"{USER}:{PASSWORD}"}
    code = f"{GATEWAY}; serve(Settings(), '127.0.0.1', {port}, 'warning')"
    process = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert process.poll() is None, "the gateway exited"
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        client = redis.Redis.from_url(redis_url)
        try:
            keys = list(client.scan_iter(match=f"*{namespace}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


def chromium(profile: Path) -> Any:
    """A headless Chromium WebDriver with a fresh profile; fails (never skips) when the browser
    or its driver is missing, saying how to install them."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: install the browser with `{INSTALL}`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not go online
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    return driver


def screenshot(driver: Any, name: str, size: tuple[int, int] = DESKTOP) -> Path:
    """Save the page at ``size`` (the whole page's height) as ``test-artifacts/ui/NAME.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(*size)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size[0], max(size[1], min(int(height) + 140, 4000)))
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(*DESKTOP)
    print(f"screenshot: {path}")
    return path


def until(condition: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll ``condition`` until it is true; an element that vanished while it was read (the
    page was loading or refreshing) counts as not yet."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except (NoSuchElementException, StaleElementReferenceException):
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.1)


class Rest:
    """The REST API of a gateway (with credentials when given)."""

    def __init__(self, base: str, authorization: str | None = None) -> None:
        headers = {"Authorization": authorization} if authorization else {}
        self.http = httpx.Client(base_url=base, headers=headers, timeout=30)

    def publish(self, topic: str, *tasks: dict[str, Any]) -> list[str]:
        response = self.http.post(f"/redtask/topics/{topic}/tasks", json=list(tasks) or [{}])
        assert response.status_code == 201, response.text
        return list(response.json()["ids"])

    def fetch(self, topic: str, worker: str = "w", max_tasks: int = 10) -> list[dict[str, Any]]:
        body = {
            "workerId": worker,
            "maxTasks": max_tasks,
            "topics": [{"topicName": topic, "lockDuration": 600_000}],
        }
        response = self.http.post("/engine-rest/external-task/fetchAndLock", json=body)
        assert response.status_code == 200, response.text
        return list(response.json())

    def fail(self, task_id: str, worker: str, message: str, details: str, retries: int) -> None:
        body = {
            "workerId": worker,
            "errorMessage": message,
            "errorDetails": details,
            "retries": retries,
            "retryTimeout": 0,
        }
        response = self.http.post(f"/engine-rest/external-task/{task_id}/failure", json=body)
        assert response.status_code == 204, response.text

    def complete(self, task_id: str, worker: str) -> None:
        response = self.http.post(
            f"/engine-rest/external-task/{task_id}/complete", json={"workerId": worker}
        )
        assert response.status_code == 204, response.text

    def deploy(self, name: str, content: bytes) -> str:
        response = self.http.post(
            "/engine-rest/deployment/create",
            files=[("data", (name, content))],
            data={"deployment-name": name},
        )
        assert response.status_code == 200, response.text
        [definition_id] = response.json()["deployedProcessDefinitions"]
        return str(definition_id)

    def start(self, key: str, business_key: str, variables: dict[str, Any]) -> str:
        response = self.http.post(
            f"/engine-rest/process-definition/key/{key}/start",
            json={"businessKey": business_key, "variables": variables},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["id"])
