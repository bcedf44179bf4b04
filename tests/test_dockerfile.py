"""The Dockerfile replayed without Docker: its COPYs into a temporary /app, its RUN steps there, its CMD served and checked.

No Docker engine runs here or in CI, so `docker build` never does; this replay stands in for it. The build context is
the repository as a clean clone has it (tracked and not-ignored files). COPY copies exactly what it names, RUN runs
with the Dockerfile's ENV in that copy, `python` and `streamlit` being the venv's (it holds what the skipped
`pip install`s would install: checked), and CMD serves the copy alone, without PYTHONPATH. An ENV value that is an
absolute path names the replay's copy of that place. `chmod -R a-w` is replayed on the copy, and the served copy must
write nothing in its code. An instruction or a RUN command the replay does not know fails the test, so that a new
step is never skipped silently.
Not replayed: the base image's system, pip's resolution, file owners (the replay runs as one user).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from tests.harness import CHART, READY, ROOT, chromium_launch_args, free_port, serving

VENV_BIN = Path(sys.executable).parent  # stands for the image's /usr/local/bin, where its pip installs put python and streamlit
KNOWN = ("FROM", "WORKDIR", "ENV", "ARG", "COPY", "RUN", "USER", "EXPOSE", "HEALTHCHECK", "CMD")
# RUN commands (between `&&`) the replay skips, each once, and why; every other one must be `python ...` and is run.
SKIPPED = {
    "torch guard": r'test -n "\$TORCH_INDEX"',  # the build argument only the torch install uses
    "torch install": r'pip install (?P<pin>torch==\S+) --index-url "\$TORCH_INDEX"',  # the venv holds it: checked
    "requirements install": r"pip install -r (?P<file>\S+)",  # the venv holds them: checked
    "user": r"useradd --create-home (?P<user>\w+)",  # the replay runs as this machine's user
    "ownership": r"chown -R (?P<user>\w+) (?P<path>/\S*)",
}
READ_ONLY = r"chmod -R a-w (?P<path>/\S*)"  # replayed on the copy: every file and directory under path loses its write bits
RUN_TIMEOUT = 120.0  # seconds per RUN command: the kernel's compilation takes about 10 on one core
STARTUP_TIMEOUT = 60.0  # seconds until the started CMD is healthy, as in tests/harness.py's streamlit_server
PLOTLY_URL = re.search(r'const PLOTLY_URL = "([^"]+)"', (ROOT / "dropviz" / "web" / "live_chart.js").read_text())[1]  # relative to the page


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, as Docker reads them: comment lines dropped, `\\` continuations joined."""
    result, pending = [], ""
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue  # Docker drops comment lines inside a continuation too
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1]
            continue
        keyword, arguments = re.fullmatch(r"(\S+)\s*(.*)", (pending + line).strip()).groups()
        pending = ""
        if keyword.upper() not in KNOWN:
            pytest.fail(f"Dockerfile: the replay does not know {keyword!r}; teach tests/test_dockerfile.py what it means")
        result.append((keyword.upper(), arguments.strip()))
    assert not pending, "Dockerfile: it ends inside a `\\` continuation"
    return result


def build_context() -> list[str]:
    """The files `docker build .` sends from a clean clone, relative to the repository."""
    assert not (ROOT / ".dockerignore").exists(), "a .dockerignore appeared: teach the replay's build_context() to honour it"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return sorted(name for name in listed.split("\0") if name and (ROOT / name).is_file())


@dataclass
class Image:
    """What the replay built under root (the image's /), and what the Dockerfile says about running it."""

    root: Path
    base: str = ""
    workdir: str = "/"  # in the image
    env: dict[str, str] = field(default_factory=dict)  # ENV: seen by the RUN steps, HEALTHCHECK and CMD
    args: dict[str, str] = field(default_factory=dict)  # ARG defaults: seen by the RUN steps
    copied: list[str] = field(default_factory=list)  # the workdir's files after the COPYs, relative to it
    built: list[str] = field(default_factory=list)  # ... and after every step
    replayed: list[str] = field(default_factory=list)  # RUN commands run, as run
    skipped: dict[str, re.Match] = field(default_factory=dict)  # SKIPPED's name -> the RUN command it matched
    user: str = "root"
    expose: list[int] = field(default_factory=list)
    healthcheck: str = ""  # shell form
    cmd: list[str] = field(default_factory=list)

    def path(self, name: str = ".") -> Path:
        """Where the image's path (relative to WORKDIR, or absolute) is in the replay."""
        return self.root / os.path.normpath(os.path.join(self.workdir, name)).lstrip("/")

    def environ(self) -> dict[str, str]:
        """A process's environment in the image: this one's without any PYTHON* setting (no PYTHONPATH to the
        repository), the venv first on PATH, then the Dockerfile's ENV."""
        env = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
        return {**env, "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", **self.env}

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.path())) for p in self.path().rglob("*") if p.is_file())


def shell(image: Image, command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`/bin/sh -c command` in the image's workdir, as Docker runs a shell-form RUN or HEALTHCHECK."""
    return subprocess.run(
        ["/bin/sh", "-c", command],
        check=False,
        cwd=image.path(),
        env=env or image.environ(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def copy(image: Image, arguments: str, context: list[str]) -> None:
    """COPY src... dest: a file to dest (into it when dest ends in / or several are named), a directory's contents into dest."""
    *sources, dest = shlex.split(arguments)
    assert sources and not any(a.startswith("--") for a in [*sources, dest]), f"COPY {arguments}: the replay knows no flags"
    into = dest.endswith("/") or dest in (".", "..") or len(sources) > 1
    for source in sources:
        assert not set(source) & set("*?["), f"COPY {source}: the replay knows no wildcards"
        name = os.path.normpath(source)
        if name in context:
            pairs = [(name, image.path(dest) / Path(name).name if into else image.path(dest))]
        else:
            pairs = [(f, image.path(dest) / os.path.relpath(f, name)) for f in context if name == "." or f.startswith(name + "/")]
        assert pairs, f"COPY {source}: not in the build context (the repository's tracked and not-ignored files)"
        for file, target in pairs:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / file, target)  # keeps the modification time, as COPY does


def run(image: Image, arguments: str) -> None:
    """RUN in shell form: each `&&` command is skipped (SKIPPED) or, being `python ...`, run in the workdir; fails loudly otherwise."""
    assert not arguments.startswith("["), f"RUN {arguments}: the replay knows the shell form only"
    for command in re.split(r"\s*&&\s*", arguments.strip()):
        shlex.split(command)  # an unbalanced quote: this split on `&&` cut a quoted string, and the replay is wrong
        name = next((name for name, pattern in SKIPPED.items() if re.fullmatch(pattern, command)), None)
        if name is not None:
            assert name not in image.skipped, f"RUN {command!r}: a second {name!r} step; the replay skips each once"
            image.skipped[name] = re.fullmatch(SKIPPED[name], command)
            continue
        read_only = re.fullmatch(READ_ONLY, command)
        if read_only:
            _remove_write_bits(image.path(read_only["path"]))
            image.replayed.append(command)
            continue
        if not re.match(r"python\s", command):
            pytest.fail(f"RUN {command!r}: the replay runs `python ...` and `{READ_ONLY}`, skips {list(SKIPPED)}; teach it this one")
        if image.workdir != "/":  # an absolute mention of the workdir means the replay's copy of it
            command = re.sub(rf"(?<![\w./-]){re.escape(image.workdir)}(?![\w.-])", str(image.path()), command)
        done = shell(image, command, {**image.environ(), **image.args, **image.env})
        assert done.returncode == 0, f"RUN {command!r} failed with {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        image.replayed.append(command)


def _remove_write_bits(top: Path) -> None:
    for path in [top, *top.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o222)


def replay(dockerfile: Path, root: Path) -> Image:
    """Builds the image's files under root, instruction by instruction, in the Dockerfile's order."""
    image, context = Image(root), build_context()
    for keyword, arguments in instructions(dockerfile.read_text()):
        if keyword == "FROM":
            image.base = arguments
        elif keyword == "WORKDIR":
            assert arguments.startswith("/"), f"WORKDIR {arguments}: the replay knows absolute ones only"
            image.workdir = arguments
            image.path().mkdir(parents=True, exist_ok=True)
        elif keyword == "ENV":
            for pair in shlex.split(arguments):
                name, equals, value = pair.partition("=")
                assert equals and "$" not in value, f"ENV {pair}: the replay knows NAME=value without substitution"
                image.env[name] = str(image.path(value)) if value.startswith("/") else value  # a place in the image
        elif keyword == "ARG":
            name, equals, default = arguments.partition("=")
            if equals:
                image.args[name] = default
        elif keyword == "COPY":
            copy(image, arguments, context)
            image.copied = image.files()
        elif keyword == "RUN":
            run(image, arguments)
        elif keyword == "USER":
            image.user = arguments
        elif keyword == "EXPOSE":
            image.expose += [int(port.removesuffix("/tcp")) for port in arguments.split()]
        elif keyword == "HEALTHCHECK":
            options = r"(--(interval|timeout|start-period|start-interval|retries)=\S+\s+)*"  # how often: not the replay's concern
            match = re.fullmatch(options + r"CMD\s+(?P<command>[^\[].*)", arguments)
            assert match, f"HEALTHCHECK {arguments}: the replay knows `HEALTHCHECK [options] CMD <shell command>` only"
            image.healthcheck = match["command"]
        elif keyword == "CMD":
            try:
                image.cmd = json.loads(arguments)
            except json.JSONDecodeError:
                image.cmd = None
            assert isinstance(image.cmd, list) and image.cmd and all(isinstance(a, str) for a in image.cmd), (
                f"CMD {arguments}: the replay knows the JSON form only (a list of strings)"
            )
    image.built = image.files()
    return image


def option(command: list[str], name: str) -> str:
    """The value of `--name=value` in a command line."""
    values = [a.split("=", 1)[1] for a in command if a.startswith(f"--{name}=")]
    assert len(values) == 1, f"{command}: the replay finds --{name}=value exactly once (the form `--{name} value` it does not know)"
    return values[0]


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Image:
    return replay(ROOT / "Dockerfile", tmp_path_factory.mktemp("image"))


def test_the_run_steps_compile_the_kernel_and_place_plotly_js_in_the_image(image):
    assert image.replayed, "no RUN step was replayed"
    page_loads = os.path.relpath(PLOTLY_URL, "app")  # Streamlit serves app/static/ from static/ next to the main script
    assert page_loads.startswith("static/"), f"the page loads plotly.js from {PLOTLY_URL}, not from Streamlit's app/static/"
    assert page_loads not in image.copied, f"{page_loads} is in the build context: the check that a RUN step places it proves nothing"
    assert page_loads in image.built, f"after the RUN steps there is no {page_loads} in the workdir: the page's plotly.js would be missing"
    assert image.path(page_loads).stat().st_size > 1_000_000, "plotly.min.js in the image is not plotly.js (1.2 or 4.8 MB)"
    # The compiled kernel is in the image: a later process (a worker of the server) loads it instead of compiling.
    warm_up = [c for c in image.replayed if "warm_up" in c]
    assert warm_up, "no RUN step warms the kernel up (dropviz.core.kernel.warm_up): the first Play would compile for seconds"
    again = shell(image, warm_up[0], {**image.environ(), "NUMBA_DEBUG_CACHE": "1"})
    assert again.returncode == 0, again.stderr[-4000:]
    assert "[cache] data loaded" in again.stdout and "[cache] data saved" not in again.stdout, (
        f"a later process compiles the kernel again instead of loading the image's cache:\n{again.stdout[-2000:]}"
    )


def test_only_the_installs_and_the_user_are_skipped_and_the_venv_holds_the_installs(image):
    assert sorted(image.skipped) == sorted(SKIPPED), (
        f"skipped RUN commands: {sorted(image.skipped)}, expected each of {sorted(SKIPPED)} once"
    )
    python = re.fullmatch(r"python:(\d+\.\d+)[\w.-]*", image.base)
    assert python, f"FROM {image.base}: the replay stands in for python:X.Y images only"
    assert python[1] == f"{sys.version_info.major}.{sys.version_info.minor}", f"FROM {image.base}, but the venv runs Python {sys.version}"
    pins = [image.skipped["torch install"]["pin"]]
    for line in image.path(image.skipped["requirements install"]["file"]).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            assert re.fullmatch(r"[\w.-]+==[\w.+-]+", line), f"requirements: {line!r}: the replay checks `name==version` pins only"
            pins.append(line)
    for pin in pins:
        name, wanted = pin.split("==")
        try:
            held = version(name)
        except PackageNotFoundError:
            held = None
        assert held and SpecifierSet(f"=={wanted}").contains(held), f"the image installs {pin}, the venv holds {name} {held}"
    owner = image.skipped["ownership"]
    assert image.user == image.skipped["user"]["user"] == owner["user"], f"USER {image.user} should be the user created and given a place"


def _within(path: str, top: str) -> bool:
    """Whether the image's absolute path is top or under it."""
    return os.path.commonpath([path, top]) == top


def _snapshot(top: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under top (itself included) -> (mode, size, modification time): a change in anything written there."""
    return {str(p.relative_to(top)): (p.lstat().st_mode, p.lstat().st_size, p.lstat().st_mtime_ns) for p in [top, *top.rglob("*")]}


def test_the_code_is_read_only_for_its_user_who_writes_only_the_kernel_cache(image):
    assert image.user not in ("root", "0"), "USER: the server should not run as root"
    given = image.skipped["ownership"]["path"]
    assert not _within(image.workdir, given) and not _within(given, image.workdir), (
        f"chown -R {given}: the runtime user would own code in {image.workdir}, and could make it writable again"
    )
    writable = [name for name, (mode, _, _) in _snapshot(image.path()).items() if mode & 0o222 and not stat.S_ISLNK(mode)]
    assert not writable, f"writable in {image.workdir} after the build (`chmod -R a-w {image.workdir}` last?): {writable[:5]}"
    assert "NUMBA_CACHE_DIR" in image.env, "ENV: no NUMBA_CACHE_DIR, so Numba would write its cache next to the read-only code"
    cache = "/" + os.path.relpath(image.env["NUMBA_CACHE_DIR"], image.root)
    assert _within(cache, given) and not _within(cache, image.workdir), f"NUMBA_CACHE_DIR {cache}: not the runtime user's place {given}"
    assert list(Path(image.env["NUMBA_CACHE_DIR"]).rglob("*.nbi")), f"the build compiled the kernel, but not into {cache}"
    assert not list(image.path().rglob("*.nb[ci]")), f"a kernel cache in the code under {image.workdir}"


def test_cmd_healthcheck_and_expose_name_one_port_on_every_interface(image):
    port = int(option(image.cmd, "server.port"))
    assert image.expose == [port], f"EXPOSE {image.expose}, but CMD serves port {port}"
    assert option(image.cmd, "server.address") == "0.0.0.0", "CMD: a container's server must listen on 0.0.0.0 to be reached"
    assert re.search(rf"http://127\.0\.0\.1:{port}/_stcore/health\b", image.healthcheck), (
        f"HEALTHCHECK {image.healthcheck}: not Streamlit's health URL on port {port}"
    )


@dataclass
class Container:
    url: str
    healthcheck: str  # the HEALTHCHECK command for this port
    pid: int
    code: dict[str, tuple[int, int, int]]  # _snapshot of the workdir as the server started


@pytest.fixture(scope="module")
def container(image, tmp_path_factory):
    """The CMD started from the replay's workdir on a free loopback port; killed with its workers at the end, whatever happens."""
    port, exposed = free_port(), option(image.cmd, "server.port")
    healthcheck, replaced = re.subn(rf":{exposed}\b", f":{port}", image.healthcheck)
    assert replaced == 1, f"HEALTHCHECK {image.healthcheck}: port {exposed} should appear once"
    env = image.environ()
    command = [
        a.replace(f"--server.port={exposed}", f"--server.port={port}").replace("--server.address=0.0.0.0", "--server.address=127.0.0.1")
        for a in image.cmd
    ]
    command[0] = shutil.which(command[0], path=env["PATH"])
    assert command[0] and Path(command[0]).parent == VENV_BIN, f"CMD {image.cmd[0]}: not the venv's ({command[0]})"
    log = tmp_path_factory.mktemp("container") / "streamlit.log"
    url = f"http://127.0.0.1:{port}"
    code = _snapshot(image.path())
    with serving(command, url, cwd=image.path(), env=env, timeout=STARTUP_TIMEOUT, log=log) as process:
        yield Container(url, healthcheck, process.pid, code)  # the HEALTHCHECK itself is a test of its own


def _get(url: str, timeout: float = 2.0) -> tuple[int | None, str, bytes]:
    """(status, content type, body) of a GET; status None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), b""
    except OSError:
        return None, "", b""


def test_the_server_runs_the_copy_alone(image, container):
    assert Path(f"/proc/{container.pid}/cwd").resolve() == image.path().resolve()
    environ = Path(f"/proc/{container.pid}/environ").read_bytes().split(b"\0")
    assert not [v for v in environ if v.startswith(b"PYTHONPATH=")], "the server has a PYTHONPATH: the copy alone should be enough"
    where = subprocess.run(
        [sys.executable, "-c", "import dropviz; print(dropviz.__file__)"],
        cwd=image.path(),
        env=image.environ(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).resolve().is_relative_to(image.path().resolve()), f"`import dropviz` in the image finds {where}, not the copy"


def test_healthcheck_page_and_plotly_js_answer(image, container):
    health = shell(image, container.healthcheck)
    assert health.returncode == 0, f"HEALTHCHECK {container.healthcheck} failed:\n{health.stderr[-2000:]}"
    url = re.search(r"https?://[^\s'\"]+", container.healthcheck)[0]
    status, _, body = _get(url)
    assert (status, body) == (200, b"ok"), f"the HEALTHCHECK's {url} answered {status} {body[:80]!r}, not Streamlit's health (200 ok)"
    status, content_type, _ = _get(container.url + "/", timeout=10)
    assert (status, content_type) == (200, "text/html"), f"the page / answered {status} {content_type}"
    status, content_type, body = _get(f"{container.url}/{PLOTLY_URL}", timeout=30)
    assert status == 200 and "javascript" in content_type, f"the page's {PLOTLY_URL} answered {status} {content_type}, not JavaScript" + (
        "" if status != 200 else ": does the image's .streamlit/config.toml enable static serving?"
    )
    assert body == image.path(os.path.relpath(PLOTLY_URL, "app")).read_bytes(), f"{PLOTLY_URL} is not the image's static/ file"


def test_a_browser_sees_the_page_ready_with_its_live_charts(container):
    launch = chromium_launch_args()  # a failure under CI=true when there is no Chromium, else a skip
    from playwright.sync_api import sync_playwright

    def load_the_page() -> None:
        with sync_playwright() as p:
            browser = p.chromium.launch(**launch)
            try:
                page = browser.new_page()
                page.goto(container.url)
                page.wait_for_selector(READY, timeout=30_000)
                page.wait_for_selector(CHART, timeout=30_000)  # drawn by plotly.js, loaded from the image's static/
            finally:
                browser.close()

    with ThreadPoolExecutor(1) as thread:  # a thread of its own: the e2e tests leave pytest-playwright's loop in this one
        thread.submit(load_the_page).result()


def test_the_served_copy_writes_nothing_in_its_code(image, container):
    """Last: after the page and its charts were served (the test above), and a worker's kernel load (here)."""
    warm_up = next(c for c in image.replayed if "warm_up" in c)
    assert shell(image, warm_up).returncode == 0
    assert _get(container.url + "/", timeout=10)[0] == 200
    after = _snapshot(image.path())
    changed = sorted(name for name in after.keys() | container.code.keys() if after.get(name) != container.code.get(name))
    assert not changed, f"the server wrote in its read-only code: {changed[:10]}"
