"""Start the servers a task needs, and stop every one of them by process id,
whether the writer presses Ctrl-C, the task is stopped by SIGTERM, or one of
the servers dies."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

# name → (command, environment or None for this process's own)
Commands = dict[str, tuple[list[str], dict | None]]


def stop(process: subprocess.Popen, grace: float = 5.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_listening(port: int, process: subprocess.Popen | None = None, seconds: float = 30.0) -> None:
    """Wait for a server to accept connections on 127.0.0.1:port; fail early if it died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening on {port}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {seconds}s")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def server(command: list[str], port: int, env: dict | None = None, cwd=None, log=None):
    """Start one server, wait until it listens on 127.0.0.1:port, yield its
    process, and stop it by its process id on leaving, whatever happens.
    `log`: an open file for its output (default: thrown away)."""
    output = log if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_listening(port, process)
        yield process
    finally:
        stop(process)


def started_in_group(command: list[str], env: dict | None, log: Path, cwd=None) -> subprocess.Popen:
    """A server in a process group of its own (its id is the server's pid),
    its output appended to `log`: signal_group() then reaches all of it,
    gunicorn's workers too. For crash drills (the replica's test and bench)."""
    with Path(log).open("a") as output:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)


def signal_group(process: subprocess.Popen, sig=signal.SIGKILL) -> None:
    """Signal a process started by started_in_group and all of its group, by
    its pid, and wait for it (SIGKILL by default: a crash)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=30)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def running(commands: Commands, cwd=None):
    """Start the commands; on leaving, for whatever reason, stop them all."""
    # Stopping this process by its id (SIGTERM) must stop its servers too.
    signal.signal(signal.SIGTERM, _interrupt)
    processes = {}
    try:
        for name, (command, environment) in commands.items():
            processes[name] = subprocess.Popen(command, cwd=cwd, env=environment)
        yield processes
    finally:
        for process in processes.values():
            stop(process)


def run_until_interrupted(commands: Commands, cwd=None, after_start=None) -> int:
    """Run named commands side by side until Ctrl-C or until one exits;
    after_start(processes), if given, runs once they are started.
    Returns the exit code of the first one that stopped on its own (0 on Ctrl-C)."""
    try:
        with running(commands, cwd) as processes:
            if after_start:
                after_start(processes)
            while True:
                for name, process in processes.items():
                    if process.poll() is not None:
                        print(f"{name} stopped (exit code {process.returncode}); stopping the rest.")
                        return process.returncode
                time.sleep(0.2)
    except KeyboardInterrupt:
        return 0


@contextlib.contextmanager
def environment_set(values: dict[str, str]):
    """Set these environment variables for the block, then put back what was
    there (a build subprocess, or Isso's config, reads them meanwhile)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
