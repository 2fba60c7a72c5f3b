"""The motif report in a real browser: headless Chromium (Debian's package, installed here when
missing), driven over the DevTools protocol through a pipe (``--remote-debugging-pipe``: JSON
messages separated by NUL bytes on file descriptors 3 and 4, so no websocket library is needed).

Checks that every image decodes, that nothing is requested from the network, that the console
shows no error, that a sequence named ``<script>alert(1)</script>`` is shown as text and runs no
script, and keeps full-page screenshots of the report and the index page as test artefacts
(``$SEQFM_ARTIFACTS``, default ``tests/artifacts/``, git-ignored).
"""

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT
from test_report import EVIL, make_results

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--no-default-browser-check", "--disable-features=Translate,MediaRouter,OptimizationHints",
         "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0"]


def artifacts_dir() -> Path:
    path = Path(os.environ.get("SEQFM_ARTIFACTS") or ROOT / "tests" / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("SEQFM_ARTIFACTS"):
        (path / ".gitignore").write_text("*\n")  # artefacts are never committed
    return path


@pytest.fixture(scope="session")
def chromium():
    """Path of Debian's chromium; installed with apt-get when missing (needs root)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("chromium is not installed and installing it with apt-get needs root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    found = shutil.which("chromium")
    assert found, "apt-get installed chromium but it is not on PATH"
    return found


class Browser:
    """Headless Chromium with one page, spoken to over the DevTools pipe."""

    def __init__(self, executable: str, workdir: Path):
        self.events: list[dict] = []
        self._replies: dict[int, dict] = {}
        self._inbox: queue.Queue = queue.Queue()
        self._next = 0
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds():  # the child reads commands on fd 3 and writes replies on fd 4
            import fcntl

            a = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)  # out of the way of 3 and 4 first
            b = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log_path = workdir / "chromium.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={workdir / 'profile'}", "--remote-debugging-pipe",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=fds, pass_fds=(3, 4))
        os.close(to_child_r)
        os.close(from_child_w)
        threading.Thread(target=self._read, daemon=True).start()
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=True)
        self.send("Emulation.setDeviceMetricsOverride", session=True, width=1280, height=900,
                  deviceScaleFactor=1, mobile=False)

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                msg, buf = buf.split(b"\0", 1)
                self._inbox.put(json.loads(msg))
        self._inbox.put(None)

    def _pump(self, timeout: float) -> None:
        msg = self._inbox.get(timeout=timeout)
        if msg is None:
            raise RuntimeError(f"chromium closed the pipe; see {self.log_path}")
        if "id" in msg:
            self._replies[msg["id"]] = msg
        else:
            self.events.append(msg)

    def send(self, method: str, session: bool = False, timeout: float = 60, **params) -> dict:
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + timeout
        while self._next not in self._replies:
            self._pump(max(0.01, end - time.monotonic()))
        reply = self._replies.pop(self._next)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        end = time.monotonic() + timeout
        seen = len(self.events)
        while True:
            for ev in self.events[seen:]:
                if ev.get("method") == method:
                    return ev
            seen = len(self.events)
            self._pump(max(0.01, end - time.monotonic()))

    def open(self, url: str) -> None:
        self.events.clear()
        self.send("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")
        # let late events (console messages, failed loads) arrive
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            try:
                self._pump(0.2)
            except queue.Empty:
                pass

    def js(self, expression: str):
        res = self.send("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                        awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        import base64

        size = self.send("Page.getLayoutMetrics", session=True)["cssContentSize"]
        data = self.send("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
                         timeout=120)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        self._log.close()


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    b = Browser(chromium, tmp_path_factory.mktemp("chromium"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    from seqfm import report

    results = tmp_path_factory.mktemp("browser") / "results"
    sample = make_results(results / "demo_sample")
    report.write_report(sample, sample / "report.html", sample="demo_sample",
                        inputs={"positives": f"data/{EVIL}.fa", "negatives": "shuffle"},
                        config_digest="0123abcd4567")
    report.write_index([sample], results / "index.html")
    return sample / "report.html", results / "index.html"


def _problems(events: list[dict]) -> dict:
    requests = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    errors = [e["params"] for e in events if e.get("method") in ("Runtime.exceptionThrown",)]
    errors += [e["params"] for e in events if e.get("method") == "Runtime.consoleAPICalled"
               and e["params"].get("type") in ("error", "assert")]
    errors += [e["params"]["entry"] for e in events if e.get("method") == "Log.entryAdded"
               and e["params"]["entry"].get("level") == "error"]
    dialogs = [e["params"] for e in events if e.get("method") == "Page.javascriptDialogOpening"]
    failed = [e["params"] for e in events if e.get("method") == "Network.loadingFailed"]
    return {"requests": requests, "errors": errors, "dialogs": dialogs, "failed": failed}


def test_report_renders_offline_without_errors(browser, pages):
    report_html, _ = pages
    browser.open(report_html.as_uri())
    p = _problems(browser.events)
    network = [u for u in p["requests"] if not u.startswith(("file:", "data:"))]
    assert network == [], f"requests to the network: {network}"
    assert p["errors"] == [], f"console errors: {p['errors']}"
    assert p["failed"] == [], f"failed loads: {p['failed']}"
    assert p["dialogs"] == [], "a script from an input file ran"

    images = browser.js("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight, "
                        "i.getAttribute('alt')])")
    assert len(images) >= 16
    bad = [im for im in images if not (im[0] and im[1] > 0 and im[2] > 0)]
    assert bad == [], f"images that did not decode: {bad}"

    assert browser.js("document.scripts.length") == 0
    assert browser.js("document.querySelectorAll('iframe,object,embed,link[rel=stylesheet]').length") == 0
    assert browser.js(f"document.body.innerText.includes({json.dumps(EVIL)})") is True
    sections = browser.js("Array.from(document.querySelectorAll('section.card')).map(s => s.id)")
    assert sections == ["run", "performance", "motifs", "sites", "featuremaps", "downloads"]
    # nothing sticks out of the page horizontally at a laptop's width
    assert browser.js("document.documentElement.scrollWidth") <= 1280

    shot = browser.screenshot(artifacts_dir() / "report.png")
    assert shot.stat().st_size > 50_000
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size[0] == 1280 and im.size[1] > 2000


def test_index_page_links_reports(browser, pages):
    report_html, index_html = pages
    browser.open(index_html.as_uri())
    p = _problems(browser.events)
    assert [u for u in p["requests"] if not u.startswith(("file:", "data:"))] == []
    assert p["errors"] == [] and p["dialogs"] == []
    links = browser.js("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    assert report_html.as_uri() in links
    assert "0.953" in browser.js("document.body.innerText")
    browser.screenshot(artifacts_dir() / "index.png")
