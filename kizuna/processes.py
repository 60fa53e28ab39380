"""Start the servers a task needs, and stop every one of them by process id,
whether the writer presses Ctrl-C or one of them dies."""

import signal
import subprocess
import time


def stop(process: subprocess.Popen, grace: float = 5.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run_until_interrupted(commands: dict[str, list[str]], cwd=None) -> int:
    """Run named commands side by side until Ctrl-C or until one exits.
    Returns the exit code of the first one that stopped on its own (0 on Ctrl-C)."""
    # Stopping this process by its id (SIGTERM) must stop its servers too.
    signal.signal(signal.SIGTERM, _interrupt)
    processes = {name: subprocess.Popen(command, cwd=cwd) for name, command in commands.items()}
    try:
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} stopped (exit code {process.returncode}); stopping the rest.")
                    return process.returncode
            time.sleep(0.2)
    except KeyboardInterrupt:
        return 0
    finally:
        for process in processes.values():
            stop(process)
