"""``make classroom``: a class of students on a real JupyterHub on this machine, at once.

What it does, in order (everything on loopback; it stops by itself, whatever happens):

1. installs what a one-server deployment installs, from the project's own files: the hub's environment
   (``requirements-hub.txt``), the students' environment (``binder/requirements.txt``, the course itself
   included, plus ``requirements-user.txt``, as repo2docker builds the image) and the proxy (``npm ci``);
2. starts JupyterHub with ``deploy/jupyterhub/jupyterhub_config.py`` as an instructor would, through
   ``deploy/classroom/jupyterhub_config.py``, which replaces only the login (DummyAuthenticator) and the spawner
   (SimpleLocalProcessSpawner) and shortens the timeouts;
3. makes the students through the hub's REST API and starts all their servers at the same time;
4. gives each the course by nbgitpuller (from a bare clone of this repository's HEAD), then runs
   ``01_aes`` and ``04_revocation_and_lifecycle`` top to bottom in each student's own kernel, over the Jupyter
   server's REST API and kernel websocket, every student at once, and compares every cell's output with the
   committed notebook through the course's nbval sanitizer;
5. each student saves their copy; the instructor restarts every server, and each saved copy must still be there;
6. one student opens the course in Chromium, through the hub's proxy, and encrypts with the AES form;
7. the idle culler must stop every server left idle;
8. reports: the time to start the class, the 95th-percentile cell latency under load, failures, and peak memory
   per student server, and writes them to ``deploy/classroom/results/latest.json``.

Usage: ``python deploy/classroom/run.py [--students N] [--keep]`` (from the project's virtual environment).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = ROOT / ".classroom"
NOTEBOOKS = ("01_aes.ipynb", "04_revocation_and_lifecycle.ipynb")
COURSE_FOLDER = "kmslib"
# The culler's timeout in the test, in seconds (3600 in the instructor's configuration): longer than any pause in a
# student's activity while twelve of them share two cores (a 45-second timeout culled a working student here).
IDLE_TIMEOUT = 90
CULL_EVERY = 10
ACTIVITY_INTERVAL = 5
DEADLINE = 15 * 60  # the whole run stops after this, whatever happens
CHROMIUM = Path("/usr/bin/chromium")


def log(*words: object) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *words, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ---------------------------------------------------------------------- installing, as a deployment does


def _stamp(*files: Path) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def ensure_environments() -> tuple[Path, Path, Path]:
    """The hub's venv, the students' venv and the proxy's command, installed from the project's files."""
    WORK.mkdir(exist_ok=True)
    hub_env, user_env = WORK / "hub-env", WORK / "user-env"
    hub_files = [HERE / "requirements-hub.txt"]
    user_files = [ROOT / "binder" / "requirements.txt", HERE / "requirements-user.txt", ROOT / "binder" / "postBuild"]
    for venv, files, install in (
        (hub_env, hub_files, ["-r", str(hub_files[0])]),
        (user_env, user_files, ["-r", str(user_files[0]), "-r", str(user_files[1])]),
    ):
        stamp = venv / ".kmslib-stamp"
        if stamp.exists() and stamp.read_text() == _stamp(*files):
            continue
        log(f"installing {venv.name} from {', '.join(f.name for f in files)}")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *install], check=True, cwd=ROOT)  # binder's "." line installs the course from ROOT
        if venv is user_env:
            env = {**os.environ, "NB_PYTHON_PREFIX": str(user_env)}
            subprocess.run([str(ROOT / "binder" / "postBuild")], check=True, cwd=ROOT, env=env)
        stamp.write_text(_stamp(*files))
    # The course itself, as this working tree has it (binder's "." line, again: the stamp covers only pins).
    subprocess.run(
        [str(user_env / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", "."],
        check=True,
        cwd=ROOT,
    )
    proxy = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        log("installing configurable-http-proxy (npm ci)")
        subprocess.run(["npm", "ci", "--silent", "--prefix", str(HERE)], check=True)
    return hub_env, user_env, proxy


# ---------------------------------------------------------------------- the hub


@dataclass
class Hub:
    """A running hub: its address, the test's API token, and the students' shared password."""

    url: str
    token: str
    password: str
    process: subprocess.Popen[bytes]
    folder: Path

    def api(self, method: str, path: str, body: object = None, token: str | None = None) -> Any:
        """Call the hub's REST API; returns the decoded JSON (or ``None``)."""
        return request(method, f"{self.url}/hub/api{path}", body, token or self.token)


def request(method: str, url: str, body: object = None, token: str | None = None, timeout: float = 60) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"token {token}")
    with urllib.request.urlopen(req, timeout=timeout) as response:
        text = response.read()
    return json.loads(text) if text else None


@contextlib.contextmanager
def running_hub(hub_env: Path, user_env: Path, proxy: Path, folder: Path) -> Iterator[Hub]:
    port = free_port()
    token, password = secrets.token_hex(32), secrets.token_urlsafe(12)
    homes = folder / "homes"
    homes.mkdir()
    env = {
        **os.environ,
        "KMSLIB_USER_ENV": str(user_env),
        "KMSLIB_PROXY": str(proxy),
        "KMSLIB_IDLE_TIMEOUT": str(IDLE_TIMEOUT),
        "KMSLIB_CULL_EVERY": str(CULL_EVERY),
        "KMSLIB_ACTIVITY_INTERVAL": str(ACTIVITY_INTERVAL),
        "KMSLIB_HUB_URL": f"http://127.0.0.1:{port}",
        "KMSLIB_HUB_DB": f"sqlite:///{folder / 'jupyterhub.sqlite'}",
        "KMSLIB_COOKIE_SECRET": str(folder / "cookie_secret"),
        "KMSLIB_HUB_API_PORT": str(free_port()),
        "KMSLIB_PROXY_API_PORT": str(free_port()),
        "KMSLIB_CLASS_PASSWORD": password,
        "KMSLIB_HOMES": str(homes),
        "KMSLIB_TEST_TOKEN": token,
        "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(32),
        "PATH": f"{hub_env / 'bin'}:{os.environ['PATH']}",
    }
    hub_log = (folder / "hub.log").open("wb")
    process = subprocess.Popen(
        [str(hub_env / "bin" / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
        cwd=folder,
        env=env,
        stdout=hub_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the hub, its proxy and every student's server: one process group to stop
    )
    hub = Hub(f"http://127.0.0.1:{port}", token, password, process, folder)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request("GET", f"{hub.url}/hub/api/", token=token, timeout=2)
                break
            except (OSError, urllib.error.HTTPError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the hub did not start: see {folder / 'hub.log'}") from None
                time.sleep(0.3)
        yield hub
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        hub_log.close()


def wait_ready(hub: Hub, name: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server = hub.api("GET", f"/users/{name}")["servers"].get("")
        if server and server.get("ready"):
            return
        time.sleep(0.25)
    raise RuntimeError(f"{name}'s server did not become ready")


def start_servers(hub: Hub, names: list[str]) -> float:
    """Start every student's server at once; the seconds until the last is ready."""

    def start(name: str) -> None:
        hub.api("POST", f"/users/{name}/server")  # returns once started, or after the hub's slow_spawn_timeout
        wait_ready(hub, name)

    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        list(pool.map(start, names))
    return time.monotonic() - began


def stop_servers(hub: Hub, names: list[str]) -> None:
    for name in names:
        hub.api("DELETE", f"/users/{name}/server")
    deadline = time.monotonic() + 120
    for name in names:
        while hub.api("GET", f"/users/{name}")["servers"]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}'s server did not stop")
            time.sleep(0.25)


# ---------------------------------------------------------------------- a student's work: REST API and websocket


def sanitizer() -> list[tuple[re.Pattern[str], str]]:
    """The course's nbval sanitizer (notebooks/sanitize.cfg): its regex/replace pairs."""
    pairs, pattern = [], None
    for line in (ROOT / "notebooks" / "sanitize.cfg").read_text().splitlines():
        if line.startswith("regex: "):
            pattern = re.compile(line[len("regex: ") :])
        elif line.startswith("replace: ") and pattern is not None:
            pairs.append((pattern, line[len("replace: ") :]))
            pattern = None
    return pairs


def comparable(outputs: list[dict[str, Any]], rules: list[tuple[re.Pattern[str], str]]) -> list[tuple[str, str]]:
    """Outputs as nbval compares them: streams joined, the text of results (not images or widgets), sanitized."""
    found: list[tuple[str, str]] = []
    for output in outputs:
        kind = output["output_type"]
        if kind == "stream":
            text = "".join(output["text"])
            if found and found[-1][0] == f"stream:{output['name']}":
                found[-1] = (found[-1][0], found[-1][1] + text)
            else:
                found.append((f"stream:{output['name']}", text))
        elif kind in ("execute_result", "display_data"):
            found.append(("data", "".join(output.get("data", {}).get("text/plain", ""))))
        elif kind == "error":
            found.append(("error", output["ename"]))
    for i, (kind, text) in enumerate(found):
        clean = text
        for pattern, replacement in rules:
            clean = pattern.sub(replacement, clean)
        found[i] = (kind, clean)
    return found


@dataclass
class Result:
    """What one student's run found."""

    name: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    reconnects: list[str] = field(default_factory=list)


def run_notebook(server: str, token: str, path: str, result: Result) -> dict[str, Any]:
    """Run a notebook's code cells in a new kernel of the student's server; return the notebook with its outputs."""
    import websocket  # websocket-client: the kernel's channels over the Jupyter server's websocket

    quoted = urllib.parse.quote(path)
    notebook = request("GET", f"{server}/api/contents/{quoted}?content=1", token=token)["content"]
    session = request(
        "POST",
        f"{server}/api/sessions",
        {"path": path, "type": "notebook", "name": path.rsplit("/", 1)[-1], "kernel": {"name": "python3"}},
        token,
    )
    kernel, session_id = session["kernel"]["id"], uuid.uuid4().hex
    ws_url = server.replace("http://", "ws://") + f"/api/kernels/{kernel}/channels?session_id={session_id}"
    channel = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=120)
    try:
        for cell in notebook["cells"]:
            if cell["cell_type"] != "code":
                continue
            msg_id = uuid.uuid4().hex
            message = {
                "header": {
                    "msg_id": msg_id,
                    "username": result.name,
                    "session": session_id,
                    "msg_type": "execute_request",
                    "version": "5.3",
                    "date": datetime.now(UTC).isoformat(),
                },
                "parent_header": {},
                "metadata": {},
                "content": {
                    "code": cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"]),
                    "silent": False,
                    "store_history": True,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
                "channel": "shell",
                "buffers": [],
            }
            started = time.monotonic()
            channel.send(json.dumps(message))
            outputs: list[dict[str, Any]] = []
            count, idle = None, False
            while not idle or count is None:
                reply = json.loads(channel.recv())
                if reply.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = reply["msg_type"], reply["content"]
                if kind == "stream":
                    outputs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
                elif kind in ("execute_result", "display_data"):
                    outputs.append({"output_type": kind, "data": content["data"], "metadata": content["metadata"]})
                    if kind == "execute_result":
                        outputs[-1]["execution_count"] = content["execution_count"]
                elif kind == "error":
                    outputs.append(
                        {"output_type": "error", **{k: content[k] for k in ("ename", "evalue", "traceback")}}
                    )
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
                elif kind == "execute_reply":
                    count = content.get("execution_count")
            result.latencies.append(time.monotonic() - started)
            cell["outputs"], cell["execution_count"] = outputs, count
    finally:
        channel.close()
        request("DELETE", f"{server}/api/sessions/{session['id']}", token=token)
    return notebook


def compare(path: str, ran: dict[str, Any], rules: list[tuple[re.Pattern[str], str]], result: Result) -> None:
    """Every cell nbval would compare must match the committed notebook, sanitized."""
    committed = json.loads((ROOT / "notebooks" / path.rsplit("/", 1)[-1]).read_text())
    cells = [c for c in committed["cells"] if c["cell_type"] == "code"]
    mine = [c for c in ran["cells"] if c["cell_type"] == "code"]
    for n, (expected, got) in enumerate(zip(cells, mine, strict=True)):
        if expected.get("execution_count") is None:  # a form cell: saved without output, not compared
            continue
        if comparable(expected["outputs"], rules) != comparable(got["outputs"], rules):
            result.failures.append(f"{path} cell {n}: output differs from the committed notebook")


def run_notebook_reconnecting(server: str, token: str, path: str, result: Result) -> dict[str, Any]:
    """:func:`run_notebook`; if the kernel's websocket closes under it, once more from the top, as JupyterLab would.

    JupyterLab reconnects a closed kernel websocket by itself; a student then runs the notebook again. The
    reconnection is reported (``reconnects``); a second closed websocket is a failure.
    """
    import websocket  # websocket-client, as in run_notebook

    try:
        return run_notebook(server, token, path, result)
    except (websocket.WebSocketConnectionClosedException, ConnectionError) as exc:
        result.reconnects.append(f"{path.rsplit('/', 1)[-1]}: {type(exc).__name__}")
        log(f"{result.name}: the kernel's websocket closed during {path} ({type(exc).__name__}); running it again")
        return run_notebook(server, token, path, result)


def student_work(hub: Hub, name: str, repo: str, rules: list[tuple[re.Pattern[str], str]]) -> Result:
    """One student: pull the course, run the two notebooks, save their copy."""
    result = Result(name)
    try:
        token = hub.api("POST", f"/users/{name}/tokens", {"note": "classroom test", "expires_in": 3600})["token"]
        server = f"{hub.url}/user/{name}"
        query = urllib.parse.urlencode({"repo": repo, "branch": "main", "targetpath": COURSE_FOLDER})
        req = urllib.request.Request(f"{server}/git-pull/api?{query}")
        req.add_header("Authorization", f"token {token}")
        with urllib.request.urlopen(req, timeout=120) as response:
            events = response.read().decode()
        if '"phase": "finished"' not in events:
            result.failures.append(f"nbgitpuller did not finish: {events[-300:]}")
            return result
        for notebook in NOTEBOOKS:
            path = f"{COURSE_FOLDER}/notebooks/{notebook}"
            ran = run_notebook_reconnecting(server, token, path, result)
            compare(path, ran, rules, result)
            ran["cells"].append({"cell_type": "markdown", "metadata": {}, "source": f"Saved by {name}."})
            request(
                "PUT", f"{server}/api/contents/{urllib.parse.quote(path)}", {"type": "notebook", "content": ran}, token
            )
    except Exception as exc:  # noqa: BLE001 - every failure is counted and reported, none stops the class
        result.failures.append(f"{type(exc).__name__}: {exc}")
    return result


def saved_work_survives(hub: Hub, name: str) -> list[str]:
    token = hub.api("POST", f"/users/{name}/tokens", {"note": "after the restart", "expires_in": 600})["token"]
    problems = []
    for notebook in NOTEBOOKS:
        path = urllib.parse.quote(f"{COURSE_FOLDER}/notebooks/{notebook}")
        content = request("GET", f"{hub.url}/user/{name}/api/contents/{path}?content=1", token=token)["content"]
        last = content["cells"][-1]
        source = last["source"] if isinstance(last["source"], str) else "".join(last["source"])
        if source != f"Saved by {name}.":
            problems.append(f"{name}: {notebook} lost its saved work after the restart")
    return problems


# ---------------------------------------------------------------------- memory


class MemorySampler:
    """Samples the resident memory of each student's server with its kernels, every half second."""

    def __init__(self, names: list[str]) -> None:
        self.names = set(names)
        self.peak: dict[str, int] = dict.fromkeys(names, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.5):
            totals: dict[str, int] = {}
            for process in psutil.process_iter(["cmdline"]):
                with contextlib.suppress(psutil.Error):
                    if not any("jupyterhub-singleuser" in part for part in process.info["cmdline"] or []):
                        continue
                    user = process.environ().get("JUPYTERHUB_USER")
                    if user not in self.names:
                        continue
                    tree = [process, *process.children(recursive=True)]
                    totals[user] = sum(p.memory_info().rss for p in tree if p.is_running())
            for user, total in totals.items():
                self.peak[user] = max(self.peak[user], total)


# ---------------------------------------------------------------------- the browser


#: True once any code cell shows it ran or is running (``[*]`` or ``[1]``): Run All did start.
CELLS_STARTED = """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')]
    .some((p) => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""


def kernel_connected(hub: Hub, name: str, token: str, path: str) -> bool:
    """Whether the notebook's kernel is idle with the browser's websocket connected (the server's session API).

    JupyterLab's toolbar can read "idle" before its websocket reaches the kernel; a Run All clicked then runs
    nothing. The server counts a kernel's connections, so this waits for what a student's click needs.
    """
    sessions = request("GET", f"{hub.url}/user/{name}/api/sessions", token=token, timeout=10)
    return any(
        session.get("path", "").endswith(path)
        and session["kernel"].get("execution_state") == "idle"
        and session["kernel"].get("connections", 0) >= 1
        for session in sessions
    )


def run_all_cells(page: Any, ready: Any, attempts: int = 3) -> None:
    """Run > Run All Cells, as a student clicks it, once the kernel is connected; check that cells ran.

    Waits for readiness (never a fixed time): ``ready()`` must hold, then the first cell must show ``[*]`` or a
    number. If a click ran nothing, that is logged and the click repeated; after ``attempts`` it is a failure.
    """
    deadline = time.monotonic() + 180
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError("the notebook's kernel never became idle with the browser connected")
        time.sleep(0.5)
    for attempt in range(1, attempts + 1):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(CELLS_STARTED, timeout=30_000)
            return
        except Exception:  # noqa: BLE001 - playwright's TimeoutError; said, then tried again
            log(f"browser: Run All Cells ran no cell (attempt {attempt} of {attempts})")
    raise RuntimeError(f"Run All Cells ran no cell in {attempts} attempts, with the kernel connected and idle")


def browser_check(hub: Hub, name: str, screenshot: Path) -> list[str]:
    """One student logs in through the proxy, opens 01_aes in JupyterLab, runs it, and encrypts with the form."""
    if not CHROMIUM.exists():
        return [f"no browser at {CHROMIUM} (apt-get install chromium)"]
    from playwright.sync_api import sync_playwright

    args = ["--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"]  # fmt: skip
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(90_000)
        try:
            page.goto(f"{hub.url}/hub/login")
            page.fill("#username_input", name)
            page.fill("#password_input", hub.password)
            page.click("#login_submit")
            page.wait_for_url(re.compile(r".*/user/.*"))
            notebook = f"{COURSE_FOLDER}/notebooks/01_aes.ipynb"
            page.goto(f"{hub.url}/user/{name}/lab/workspaces/classroom/tree/{notebook}?reset")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached")
            token = hub.api("POST", f"/users/{name}/tokens", {"note": "classroom browser", "expires_in": 3600})["token"]
            run_all_cells(page, lambda: kernel_connected(hub, name, token, notebook))
            form = page.locator(".kmslib-aes-form").last
            form.wait_for()
            form.scroll_into_view_if_needed()
            form.locator(".kmslib-plaintext textarea").fill("sent through the hub")
            form.locator("button.kmslib-encrypt-button").click()
            token = form.locator(".kmslib-token textarea")
            page.wait_for_function("(el) => el.value.startsWith('kms:v1:aes-256-')", arg=token.element_handle())
            return []
        except Exception as exc:  # noqa: BLE001 - reported as a failure, with a screenshot
            return [f"browser: {type(exc).__name__}: {str(exc).splitlines()[0]}"]
        finally:
            page.screenshot(path=str(screenshot))
            browser.close()


# ---------------------------------------------------------------------- the class


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB"
    return f"{cpu}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}"


def _too_long(signum: int, frame: object) -> None:
    raise TimeoutError(f"the classroom run took more than {DEADLINE} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, homes) afterwards")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGALRM, _too_long)
    signal.alarm(DEADLINE)
    hub_env, user_env, proxy = ensure_environments()
    folder = Path(tempfile.mkdtemp(prefix="kmslib-classroom-"))
    repo = folder / "course.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(ROOT), str(repo)], check=True)
    names = [f"student{n:02d}" for n in range(1, args.students + 1)]
    rules = sanitizer()
    report: dict[str, Any] = {"machine": machine(), "students": args.students, "date": datetime.now(UTC).isoformat()}
    failures: list[str] = []
    try:
        with running_hub(hub_env, user_env, proxy, folder) as hub, MemorySampler(names) as memory:
            hub.api("POST", "/users", {"usernames": names})
            log(f"{len(names)} students start their servers at once")
            report["class_start_seconds"] = start_servers(hub, names)
            log(f"class started in {report['class_start_seconds']:.1f} s; each pulls the course and runs {NOTEBOOKS}")
            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
                results = list(pool.map(lambda n: student_work(hub, n, f"file://{repo}", rules), names))
            report["class_work_seconds"] = time.monotonic() - started
            latencies = sorted(t for r in results for t in r.latencies)
            failures += [f"{r.name}: {f}" for r in results for f in r.failures]
            report["websocket_reconnects"] = [f"{r.name}: {what}" for r in results for what in r.reconnects]
            report["cells_run"] = len(latencies)
            report["cell_latency_p95_seconds"] = latencies[int(0.95 * (len(latencies) - 1))] if latencies else None
            report["cell_latency_median_seconds"] = statistics.median(latencies) if latencies else None
            log(f"{len(latencies)} cells run; p95 latency {_seconds(report['cell_latency_p95_seconds'], 2)}")
            log("the instructor restarts every server")
            stop_servers(hub, names)
            report["class_restart_seconds"] = start_servers(hub, names)
            for name in names:
                failures += saved_work_survives(hub, name)
            log("one student, in Chromium, through the proxy")
            (ROOT / "deploy" / "classroom" / "results").mkdir(exist_ok=True)
            failures += browser_check(hub, names[0], ROOT / "deploy" / "classroom" / "results" / "browser.png")
            report["peak_memory_mib_per_student"] = {n: round(b / 2**20, 1) for n, b in memory.peak.items()}
            log(f"waiting for the idle culler ({IDLE_TIMEOUT} s without use, checked every {CULL_EVERY} s)")
            idle_since = time.monotonic()
            deadline = idle_since + IDLE_TIMEOUT + 6 * CULL_EVERY + 4 * ACTIVITY_INTERVAL
            running = names
            while running and time.monotonic() < deadline:
                time.sleep(2)
                running = [n for n in names if hub.api("GET", f"/users/{n}")["servers"]]
            report["culled_after_seconds"] = None if running else round(time.monotonic() - idle_since, 1)
            failures += [f"{n}: the idle culler did not stop this server" for n in running]
    finally:
        signal.alarm(0)
        if failures:  # what failed, and what the hub logged about each failing student: the evidence
            print("\nfailures so far:", *(f"  - {failure}" for failure in failures), sep="\n")
            hub_log = folder / "hub.log"
            said = hub_log.read_text(errors="replace").splitlines() if hub_log.exists() else []
            for name in sorted({failure.split(":", 1)[0] for failure in failures}):
                lines = [line for line in said if name in line][-15:]
                print(f"\n--- hub.log, the last {len(lines)} lines about {name} ---", *lines, sep="\n")
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    report["failures"] = failures
    peaks = report.get("peak_memory_mib_per_student", {}).values()
    print()
    print(f"machine: {report['machine']}")
    print(f"students: {args.students}, each running {', '.join(NOTEBOOKS)} in their own kernel, all at once")
    print(f"time to start the whole class:   {report['class_start_seconds']:.1f} s")
    print(f"time for the class's work:       {report['class_work_seconds']:.1f} s (pull + both notebooks + save)")
    print(f"cells run:                       {report['cells_run']}")
    print(f"cell latency under load:         median {_seconds(report['cell_latency_median_seconds'], 3)}, "
          f"95th percentile {_seconds(report['cell_latency_p95_seconds'], 3)}")  # fmt: skip
    print(f"restart of every server:         {report['class_restart_seconds']:.1f} s, saved work checked")
    if peaks:
        most, median = max(peaks), statistics.median(peaks)
        print(f"peak memory per student server:  {most:.0f} MiB at most, {median:.0f} MiB median")
    culled = report["culled_after_seconds"]
    print(f"idle culler:                     {f'stopped every server after {culled} s' if culled else 'FAILED'}")
    reconnects = report.get("websocket_reconnects", [])
    which = f" ({'; '.join(reconnects)})" if reconnects else ""
    print(f"kernel websockets reconnected:   {len(reconnects)}{which}")
    print(f"failures:                        {len(failures)}")
    for failure in failures:
        print(f"  - {failure}")
    results_file = ROOT / "deploy" / "classroom" / "results" / "latest.json"
    results_file.parent.mkdir(exist_ok=True)
    results_file.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if failures else 0


def _seconds(value: float | None, digits: int) -> str:
    """``value`` seconds with ``digits`` decimals, or "none measured" (no cell ran: the failures say why)."""
    return "none measured" if value is None else f"{value:.{digits}f} s"


if __name__ == "__main__":
    raise SystemExit(main())
