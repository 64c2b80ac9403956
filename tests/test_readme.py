"""The README, run as a new user runs it: its banner is what `./scripts/run` prints, and its
"Use it" commands answer 2xx, with the tokens they make and with the banner's token.

`./scripts/run` is `callquality serve --demo` after the set-up; the server here is that
command, in a folder of its own (its `./data` is the README's), on a free port instead of
8080.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import FIXTURES
from support.processes import CLI
from support.server import free_port

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def block_after(marker: str) -> str:
    """The first fenced block after a line of the README that contains marker."""
    rest = README[README.index(marker):]
    match = re.search(r"```[a-z]*\n(.*?)```", rest, re.DOTALL)
    assert match, f"no code block after {marker!r}"
    return match.group(1)


def banner_pattern(line: str, port: int) -> re.Pattern[str]:
    """A README banner line as a pattern: 8080 is the port, a word's ``...`` any value."""
    pattern = re.escape(line.replace("8080", str(port)))
    return re.compile(re.sub(r"[^\s/=#:]*\\\.\\\.\\\.", r"[^\\s/]+", pattern))


def commands(block: str) -> list[str]:
    """The shell commands of a block: continued lines and multi-line quotes joined,
    comment lines left out."""
    out: list[str] = []
    pending = ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\"):
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        out.append(pending)
        pending = ""
    assert not pending, f"unfinished command in the README: {pending}"
    return out


@dataclass
class Demo:
    """`serve --demo` as `./scripts/run` starts it: its folder, port and banner lines."""

    cwd: Path
    port: int
    banner: list[str]
    proc: subprocess.Popen[str]

    @property
    def token(self) -> str:
        return next(line for line in self.banner if line.startswith("export CQ_TOKEN="))[16:]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    cwd = tmp_path_factory.mktemp("checkout")
    port = free_port()
    proc = subprocess.Popen(
        [CLI, "serve", "--demo", "--port", str(port)], cwd=cwd, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATA_DIR")},
    )
    try:
        assert proc.stdout is not None
        banner = []
        for line in proc.stdout:
            banner.append(line.rstrip("\n"))
            if line.startswith("Demo stats"):
                break
        deadline = time.time() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.time() < deadline, "the demo server did not come up"
                time.sleep(0.1)
        yield Demo(cwd, port, banner, proc)
    finally:
        proc.terminate()
        proc.wait(10)


def test_scripts_run_is_serve_demo() -> None:
    """The premise of this module: `./scripts/run ARGS` ends in `callquality serve --demo ARGS`."""
    lines = (REPO / "scripts" / "run").read_text().strip().splitlines()
    assert lines[-1] == 'exec .venv/bin/callquality serve --demo "$@"'


def test_the_readme_shows_the_banner_that_scripts_run_prints(demo: Demo) -> None:
    expected = block_after("`./scripts/run` prints").rstrip("\n").splitlines()
    assert len(demo.banner) == len(expected), demo.banner
    for shown, written in zip(demo.banner, expected, strict=True):
        assert banner_pattern(written, demo.port).fullmatch(shown), (shown, written)


def test_the_banners_own_curl_line_answers(demo: Demo) -> None:
    line = next(line for line in demo.banner if line.startswith("Demo stats: "))
    status, body = run_curl(line.removeprefix("Demo stats: "), {"CQ_TOKEN": demo.token},
                            demo.cwd)
    assert status == 200 and len(json.loads(body)["stats"]) >= 10


def run_curl(command: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """A README curl command in bash: (HTTP status, body)."""
    out = cwd / "curl-body"
    done = subprocess.run(
        ["bash", "-c", f"{command} -sS -o {shlex.quote(str(out))} -w '%{{http_code}}'"],
        capture_output=True, text=True, timeout=30, cwd=cwd, env={**os.environ, **env},
    )
    assert done.returncode == 0, (command, done.stderr)
    return int(done.stdout), out.read_text()


def run_use_it(demo: Demo, env: dict[str, str], *, own_key: bool) -> list[str]:
    """Every command of "Use it", in order, as a user pastes them; the statuses it saw.

    With ``own_key``, every command runs, and what ``keys create`` and the token lines print
    replaces KEY, SECRET, CQ_TOKEN and RTC_TOKEN; without, only the curl lines run, with the
    tokens given.
    """
    shutil.copy(FIXTURES / "webrtc-internals" / "chrome144-two-pcs.json",
                demo.cwd / "webrtc_internals_dump.txt")
    seen = []
    session_id = None
    for written in commands(block_after("## Use it")):
        command = written.replace(".venv/bin/callquality", shlex.quote(CLI))
        command = command.replace("127.0.0.1:8080", f"127.0.0.1:{demo.port}")
        if session_id is not None:
            command = command.replace("SESSION_ID", session_id)
        if not own_key and not command.startswith("curl "):
            continue
        if command.startswith("export "):
            name = command.split()[1].split("=")[0]
            command = re.sub(r"\bKEY\b", env["KEY"], command)
            command = re.sub(r"\bSECRET\b", env["SECRET"], command)
            command += f' && printf %s "${name}"'
        if command.startswith("curl "):
            status, body = run_curl(command, env, demo.cwd)
            assert 200 <= status < 300, (written, status, body)
            seen.append(f"{status} {written.split()[-1]}")
            if "/v2/stats" in command:
                session_id = json.loads(body)["sessionIds"][0]
            continue
        assert "SESSION_ID" not in command, "a command needs the session id before the POST"
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                              timeout=120, cwd=demo.cwd, env={**os.environ, **env})
        assert done.returncode == 0, (written, done.stderr)
        seen.append(f"ok {written.split()[1]}")
        if "keys create" in command:
            env["KEY"] = re.search(r"API key: (\w+)", done.stdout).group(1)  # type: ignore[union-attr]
            env["SECRET"] = re.search(r"Secret: +(\w+)", done.stdout).group(1)  # type: ignore[union-attr]
        elif command.startswith("export "):
            env[command.split()[1].split("=")[0]] = done.stdout
    return seen


def test_the_readme_commands_answer_with_the_tokens_they_make(demo: Demo) -> None:
    env: dict[str, str] = {}
    seen = run_use_it(demo, env, own_key=True)
    assert env["CQ_TOKEN"].startswith("eyJ") and env["RTC_TOKEN"].startswith("eyJ")
    assert sum(s.startswith("2") for s in seen) == 3, seen  # the POST and the two reads


def test_the_readme_curl_lines_answer_with_the_banner_token(demo: Demo) -> None:
    env = {"CQ_TOKEN": demo.token, "RTC_TOKEN": demo.token}
    seen = run_use_it(demo, env, own_key=False)
    assert sum(s.startswith("2") for s in seen) == 3, seen


def test_the_readme_token_line_is_refused_as_written(demo: Demo) -> None:
    """Pasted without replacing KEY and SECRET, the token command says what to paste."""
    line = next(c for c in commands(block_after("## Use it")) if "--role crawler" in c)
    command = line.split("$(", 1)[1].rsplit(")", 1)[0].replace(".venv/bin/callquality", CLI)
    done = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and done.stdout == ""
    assert "paste the API key and the secret that `callquality keys create` printed" in done.stderr
