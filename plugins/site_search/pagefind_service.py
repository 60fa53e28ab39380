"""A small client of `pagefind --service`, Pagefind's indexing service: the
binary the pagefind-bin wheel ships (nothing is downloaded), fed pages one by
one while the build goes on, and asked to write its files at the end.

Why not the `pagefind` package's own Python API: it is asyncio-only and reads
the service's answers with a 0.1 s sleep before each one, so 1,000 pages cost
100 s of waiting. The protocol itself is plain: each message is JSON, base64
encoded, followed by a comma, on stdin; answers come back the same way on
stdout, tagged with the message's id. The service answers from a queue of
its own, so sending every page (and the request to write the index) before
reading any answer blocks neither side: the answers are read once, at the
end (wait()).

Pages are written to the service by a thread of this process: while Pagefind
is busy indexing, its input pipe fills, and the build must not wait for it.
That thread also works out each page's words, in the moments the build's own
thread waits (for a file, or for plugins/parallel_reading's second reader).
"""

import base64
import json
import queue
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path


# Pagefind indexes beside the build, on the core Pelican does not use; at a
# lower priority, so that the build's own work (plugins/parallel_reading reads
# on that core too) goes first, and it catches up while Pelican writes.
BACKGROUND = ["nice", "-n", "10"] if shutil.which("nice") else []


class PagefindError(RuntimeError):
    pass


def executable() -> Path:
    """The pagefind binary from the pagefind-bin wheel (requirements.txt)."""
    try:
        from pagefind_bin import get_executable
    except ImportError:
        raise PagefindError("Pagefind is not installed: run ./setup (pagefind-bin is in requirements.txt)") from None
    return get_executable()


class Service:
    """One running `pagefind --service` holding one in-memory index."""

    def __init__(self, config: dict):
        self._log = tempfile.TemporaryFile()  # its own messages, if it fails; never a pipe nobody reads
        self._process = subprocess.Popen([*BACKGROUND, str(executable()), "--service"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._log)
        self._sent: dict[int, str] = {}  # message id → what it was about, for errors
        self._outbox = queue.SimpleQueue()  # (id, payload), then None: the end
        # Started with the first page, not before: a build that forks as it
        # starts (plugins/parallel_reading) then forks a process with one thread.
        self._writer = threading.Thread(target=self._write_out, name="pagefind-input", daemon=True)
        self._send({"type": "NewIndex", "config": config}, "a new index")  # a fresh service: index 0

    def _send(self, payload: dict, about: str) -> None:
        message_id = len(self._sent) + 1
        self._sent[message_id] = about
        self._outbox.put((message_id, payload))
        if message_id > 1 and self._writer.ident is None:
            self._writer.start()

    def _write_out(self) -> None:
        """The thread that writes what _send queued; a service that stopped is
        noticed by wait(), which then reads its own words."""
        stdin = self._process.stdin
        try:
            while (item := self._outbox.get()) is not None:
                message_id, payload = item
                if callable(payload):  # a page whose words are worked out here, off the build's own thread
                    payload = payload()
                message = json.dumps({"message_id": message_id, "payload": payload}, ensure_ascii=False)
                stdin.write(base64.b64encode(message.encode("utf-8")) + b",")
                if self._outbox.empty():
                    stdin.flush()
        except OSError:  # it stopped: nothing more can be sent
            pass
        finally:
            try:
                stdin.close()  # the service exits when its input ends
            except OSError:
                pass

    def add(self, url: str, language: str, record) -> None:
        """Index one page under `url` (Pagefind's "custom record"): record()
        returns its words and metadata, (text, {name: text}); it is called on
        the thread that writes to Pagefind, so the build's own thread, while
        Pelican reads, only hands it over. Errors come out of wait()."""
        def payload():
            text, meta = record()
            return {"type": "AddRecord", "index_id": 0, "url": url, "content": text, "language": language,
                    "meta": meta, "filters": {}, "sort": {}}
        self._send(payload, url)

    def write(self, output: Path) -> None:
        """Ask for the index to be written into `output` once every page sent
        so far is indexed; this returns at once (wait() waits for it)."""
        self._send({"type": "WriteFiles", "index_id": 0, "output_path": str(output)}, f"writing {output}")

    def wait(self) -> int:
        """Wait until the index is written, then stop the service. Returns how
        many pages it indexed; raises PagefindError naming each page (or the
        index) that failed."""
        answers, errors, buffer = {}, [], b""
        while len(answers) < len(self._sent):
            chunk = self._process.stdout.read1(1 << 16)
            if not chunk:
                raise PagefindError(f"Pagefind stopped before it wrote the index: {self._stopped()}")
            buffer += chunk
            *messages, buffer = buffer.split(b",")
            for message in messages:
                answer = json.loads(base64.b64decode(message))
                payload = answer.get("payload") or {}
                message_id = answer.get("message_id")
                if payload.get("type") == "Error":
                    errors.append(f"{self._sent.get(message_id, 'a message')}: {payload.get('message')}")
                    if message_id is None:  # not tied to a message: no answer will come for it
                        self.close()
                        raise PagefindError("; ".join(errors))
                answers[message_id] = payload
        self.close()
        if errors:
            raise PagefindError("; ".join(errors))
        return sum(1 for answer in answers.values() if answer.get("type") == "IndexedFile")

    def _stopped(self) -> str:
        self.close()
        self._log.seek(0)
        said = self._log.read().decode("utf-8", "replace").strip()
        return said or f"exit status {self._process.returncode}"

    def close(self, abandon: bool = False) -> None:
        """Stop the service: end its input, and so it (or, abandoning the
        index, at once); safe to call twice."""
        if abandon:
            self._process.kill()
        if self._writer.ident is None:  # nothing was sent: no writer to stop
            self._process.stdin.close()
        elif self._writer.is_alive():
            self._outbox.put(None)
            self._writer.join()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()
