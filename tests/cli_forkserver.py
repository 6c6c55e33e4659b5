"""`archspace` commands for tests without importing torch or Ray Tune once per command.

A server process imports the CLI and the heavy libraries once, then forks a child per
command: the child takes the caller's arguments, folder, umask, environment and standard
streams and runs `archspace.cli.main` exactly as `python -m archspace` would, in a fresh
process. The client, `python cli_forkserver.py call MARKER ARGS...` (MARKER: the file
the server writes once ready), hands its streams to the server and exits with the
command's exit code; if the client dies (a test's timeout kills it), the child's process
group is killed with it. About 3 CPU-s less per command
that imports torch (TRAINING: the README test's `archspace` on PATH, tests/test_user_cli.py) or Ray Tune and
Optuna (SEARCH: the search and experiment drivers of tests/test_search.py and
tests/test_experiment.py). `python_command(MARKER) + ["-c", CODE]` runs Python code the same
way, as `python -c CODE` would (the README's Python blocks).

    server = start(marker_path, TRAINING); command(marker_path) + ["train", ...]; server.kill()
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

TRAINING = ("torch", "torch._dynamo", "av", "numpy", "yaml", "archspace.cli", "archspace.train.cli",
            "archspace.train.loop", "archspace.train.evaluate", "archspace.data.dataset", "archspace.data.synth",
            "archspace.measure", "archspace.checkpoint")
# what the drivers import (not torch: their trials train in Ray's processes)
SEARCH = ("ray", "ray.tune", "ray.tune.search", "optuna", "pandas", "pyarrow", "yaml", "archspace.cli",
          "archspace.search.run", "archspace.search.searcher", "archspace.search.tune", "archspace.experiment.run")


def _address(path: str) -> str:
    """The server's socket: in Linux's abstract namespace, named after `path` (a file that
    marks the server ready), so a long temporary folder cannot exceed a socket path's 107
    bytes and nothing is left on disk."""
    import hashlib

    return "\0archspace-cli-" + hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:32]


def command(path: Path) -> list[str]:
    """The argv prefix that runs `archspace ...` through the server at `path`."""
    return [sys.executable, __file__, "call", str(path)]


def python_command(path: Path) -> list[str]:
    """The argv prefix that runs `python -c CODE ...` through the server at `path`."""
    return [sys.executable, __file__, "python", str(path)]


def start(path: Path, preload: tuple[str, ...], timeout: float = 120) -> subprocess.Popen:
    """Start a server for `path` (written once it accepts commands); returns then."""
    # its own stdin and stdout stay off whatever the caller holds (an xdist worker's channel)
    server = subprocess.Popen([sys.executable, __file__, "serve", str(path), *preload], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not path.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"the archspace fork server did not start (exit {server.poll()})")
        time.sleep(0.05)
    return server


def serve(path: str, preload: list[str]) -> None:
    import importlib

    for name in preload:
        importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(_address(path))
    listener.listen()
    Path(path).write_text(str(os.getpid()))  # ready
    while True:
        conn, _ = listener.accept()
        message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        if os.fork() == 0:
            listener.close()
            _run(conn, json.loads(message), fds)
        for fd in fds:
            os.close(fd)
        conn.close()
        while True:  # reap finished children
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break


def _run(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: become the caller's `archspace` (or `python -c`) process, run
    the command, send its exit code."""
    code = 1
    try:
        os.setpgid(0, 0)  # a group of its own: what it starts (Ray) goes with it if the client dies
        import threading

        threading.Thread(target=_die_with_client, args=(conn,), daemon=True).start()
        os.chdir(request["cwd"])
        os.umask(request["umask"])
        os.environ.clear()
        os.environ.update(request["env"])
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        try:
            code = _python(request["argv"]) if request["python"] else _archspace(request["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - as Python would: traceback on stderr, exit 1
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        conn.sendall(struct.pack("!i", code))
        os._exit(code)


def _archspace(argv: list[str]) -> int:
    sys.argv = ["archspace", *argv]
    from archspace.cli import main

    return int(main(argv) or 0)


def _python(argv: list[str]) -> int:
    """`python -c CODE ARGS...`: the code runs as __main__ with the caller's folder first on
    sys.path, in fresh globals (its imports bind its names as in a new interpreter)."""
    if argv[:1] != ["-c"] or len(argv) < 2:
        raise SystemExit("python mode takes -c CODE [ARGS...]")
    sys.argv = ["-c", *argv[2:]]
    sys.path[0] = ""
    exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})  # noqa: S102 - what python -c does
    return 0


def _die_with_client(conn: socket.socket) -> None:
    """The client sends nothing after its request: end of stream means it is gone."""
    import signal

    try:
        conn.recv(1)
    except OSError:
        pass
    os.killpg(0, signal.SIGKILL)


def call(path: str, argv: list[str], python: bool = False) -> int:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(_address(path))
    umask = os.umask(0)
    os.umask(umask)
    request = json.dumps({"argv": argv, "cwd": os.getcwd(), "umask": umask, "env": dict(os.environ),
                          "python": python}).encode()
    socket.send_fds(conn, [request], [0, 1, 2])
    reply = b""
    while len(reply) < 4:
        chunk = conn.recv(4 - len(reply))
        if not chunk:
            return 1  # the child died without a word
        reply += chunk
    return struct.unpack("!i", reply)[0]


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3:])
    else:  # call or python
        sys.exit(call(sys.argv[2], sys.argv[3:], python=sys.argv[1] == "python"))
