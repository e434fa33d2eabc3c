"""A real headless Chromium, driven over the DevTools protocol on a pipe (standard library only).

``chromium --remote-debugging-pipe`` reads protocol commands from its file descriptor 3 and
writes answers and events to descriptor 4, one JSON message each, ended by a NUL byte. This
module starts it with a fresh profile, attaches to one page and offers what the browse tests
need: navigate, evaluate JavaScript (waiting for a condition), click by text, screenshot.

The browser reaches nothing but 127.0.0.1 (``--host-resolver-rules``): pages that ask for map
tiles or fonts on the internet get a failed lookup at once, so the tests stay hermetic. A
missing Chromium fails the test (install the Debian package ``chromium``; ``.ci/run`` does),
as a missing PostgreSQL does (tests/servers/pgstac.py): CI must not pass by skipping.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The flags that work in containers without a GPU or a sandbox, and keep Chromium from
#: reaching out (updates, sync, field trials) on its own.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def chromium_binary() -> str:
    """$CHROMIUM, else chromium on PATH (Debian: /usr/bin/chromium)."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).is_file():
        raise RuntimeError(
            "Chromium not found (neither $CHROMIUM nor chromium on PATH): install the Debian "
            "package chromium (apt-get install -y chromium; .ci/run does)"
        )
    return found


class DevToolsError(RuntimeError):
    pass


class Page:
    """One page of a headless Chromium, attached over the pipe."""

    def __init__(self, proc: subprocess.Popen[bytes], to_browser: Any, from_browser: Any) -> None:
        self._proc = proc
        self._out = to_browser
        self._in = from_browser
        self._next_id = 0
        self._answers: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session: str | None = None
        #: console messages and uncaught exceptions of the page, for failure messages
        self.console: list[str] = []

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._in.fileno(), 1 << 16)
            if not chunk:
                with self._lock:
                    self._lock.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._lock:
                    if "id" in message:
                        self._answers[message["id"]] = message
                    else:
                        self._note(message)
                    self._lock.notify_all()

    def _note(self, event: dict[str, Any]) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console.append(f"console.{params.get('type')}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.console.append(f"exception: {details.get('exception', {}).get('description', details)}")

    def send(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        """Send one command (to the attached page, once attached) and wait for its result."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if self.session is not None and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        self._out.write(json.dumps(message).encode() + b"\0")
        self._out.flush()
        deadline = time.monotonic() + timeout
        with self._lock:
            while ident not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0 or self._proc.poll() is not None:
                    raise DevToolsError(
                        f"no answer to {method} in {timeout} s (chromium {self._proc.poll()})"
                    )
                self._lock.wait(min(left, 0.5))
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise DevToolsError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def attach(self, width: int, height: int) -> None:
        targets = self.send("Target.getTargets")["targetInfos"]
        pages = [t for t in targets if t["type"] == "page"]
        target = (
            pages[0]["targetId"] if pages else self.send("Target.createTarget", url="about:blank")["targetId"]
        )
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def goto(self, url: str) -> None:
        result = self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise DevToolsError(f"cannot open {url}: {result['errorText']}")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited when it is a promise)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise DevToolsError(f"{expression[:80]}...: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60.0) -> Any:
        """Poll ``expression`` until it is truthy; its last value on timeout, in the error."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.25)
        console = "\n".join(self.console[-20:])
        raise DevToolsError(
            f"timed out after {timeout} s waiting for {expression!r} (last: {value!r})\n{console}"
        )

    def click_text(self, selector: str, text: str) -> None:
        """Click the first element matching ``selector`` whose text is ``text``."""
        found = self.evaluate(
            f"(() => {{ const e = [...document.querySelectorAll({json.dumps(selector)})]"
            f".find(x => x.textContent.trim() === {json.dumps(text)}); if (e) e.click(); return !!e; }})()"
        )
        if not found:
            raise DevToolsError(f"no {selector} with the text {text!r} on the page")

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def headless_chromium(width: int = 1280, height: int = 1000) -> Iterator[Page]:
    """A headless Chromium with a new empty profile, and its one page."""
    binary = chromium_binary()
    profile = Path(tempfile.mkdtemp(prefix="eo-fusion-chromium-"))
    # fd 3: what we write (Chromium reads), fd 4: what Chromium writes.
    cmd_read, cmd_write = os.pipe()
    ans_read, ans_write = os.pipe()

    def child_fds() -> None:
        # Via fds above 9, so that neither pipe end is overwritten by the other's dup2.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (cmd_read, ans_write)]
        for fd, target in zip(high, (3, 4), strict=True):
            os.dup2(fd, target)
            os.close(fd)

    log = profile / "chromium.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={profile / 'profile'}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            close_fds=False,  # fds 3 and 4 (set by child_fds) must stay open across exec
            preexec_fn=child_fds,
        )
    os.close(cmd_read)
    os.close(ans_write)
    to_browser = os.fdopen(cmd_write, "wb")
    from_browser = os.fdopen(ans_read, "rb")
    page = Page(proc, to_browser, from_browser)
    try:
        try:
            page.attach(width, height)
        except DevToolsError as exc:
            raise RuntimeError(f"{exc}\nchromium log:\n{log.read_text(errors='replace')[-3000:]}") from exc
        yield page
    finally:
        with contextlib.suppress(DevToolsError, OSError):  # it may be gone already: killed below
            page.send("Browser.close", timeout=5)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        to_browser.close()
        from_browser.close()
        shutil.rmtree(profile, ignore_errors=True)
