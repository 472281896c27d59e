"""The stages the page starts: `python -m <package>.<stage> <overrides>` as a subprocess, stopped with SIGTERM.

Each gets the run id the page chose (the RUN_ID variable names the run folder, as it does for
torchrun and SLURM), so the page knows its folder before Hydra creates it; stdout and stderr go
to `console.log` there. On SIGTERM Lightning finishes the current batch and exits; the checkpoints
already written (last.ckpt at every validation) stay, and the run resumes from last.ckpt.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..utils.logging import get_logger
from .runs import CONSOLE

log = get_logger(__name__)
STOP_WAIT_S = 30  # when the page itself stops: how long a stage may take to exit after SIGTERM


@dataclass
class Launched:
    stage: str
    run_id: str
    argv: list[str]  # as shown: starts with "python"
    process: subprocess.Popen
    stopped: bool = False

    @property
    def state(self) -> str:
        code = self.process.poll()
        if code is None:
            return "stopping" if self.stopped else "running"
        if self.stopped:
            return "stopped"
        return "exited" if code == 0 else f"failed (exit code {code})"


class Launcher:
    """Starts stages under the project root and remembers them while the page runs."""

    def __init__(self, root: Path, log_dir: Path) -> None:
        self.root, self.log_dir = root, log_dir
        self._launched: dict[tuple[str, str], Launched] = {}
        self._lock = threading.Lock()

    def start(self, stage: str, argv: list[str]) -> Launched:
        """Run `argv` (["python", "-m", ...]) with this interpreter; its output goes to the run's console.log."""
        with self._lock:
            run_id = self._new_run_id(stage)
            run_dir = self.log_dir / stage / "runs" / run_id
            run_dir.mkdir(parents=True)
            env = {**os.environ, "RUN_ID": run_id, "PYTHONUNBUFFERED": "1"}
            with (run_dir / CONSOLE).open("wb") as console:
                process = subprocess.Popen(  # nosec B603: the composed command line the page shows
                    [sys.executable, *argv[1:]],
                    cwd=self.root,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=console,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: SIGTERM reaches DDP ranks and data workers too
                )
            launched = Launched(stage, run_id, list(argv), process)
            self._launched[stage, run_id] = launched
        log.info("Started %s run %s (pid %d): %s", stage, run_id, process.pid, " ".join(argv))
        return launched

    def get(self, stage: str, run_id: str) -> Launched | None:
        return self._launched.get((stage, run_id))

    def stop(self, stage: str, run_id: str) -> bool:
        """SIGTERM to the run's process group; False when the page did not start it or it has ended."""
        launched = self.get(stage, run_id)
        if launched is None or launched.process.poll() is not None:
            return False
        launched.stopped = True
        try:
            os.killpg(launched.process.pid, signal.SIGTERM)
        except ProcessLookupError:  # it ended in between
            return False
        log.info("Sent SIGTERM to %s run %s (pid %d)", stage, run_id, launched.process.pid)
        return True

    def launched(self) -> list[Launched]:
        return list(self._launched.values())

    def running(self) -> list[Launched]:
        return [launched for launched in self._launched.values() if launched.process.poll() is None]

    def stop_all(self) -> None:
        """When the page stops: stop what it started, as Ctrl+C in a terminal would have."""
        for launched in self.running():
            self.stop(launched.stage, launched.run_id)
        for launched in self._launched.values():
            try:
                launched.process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s run %s still runs %d s after SIGTERM: killing it", launched.stage, launched.run_id, STOP_WAIT_S
                )
                os.killpg(launched.process.pid, signal.SIGKILL)

    def _new_run_id(self, stage: str) -> str:
        """A timestamp like the one a terminal run gets (utils.paths.run_id), unique in the stage's runs."""
        while True:
            run_id = datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
            if not (self.log_dir / stage / "runs" / run_id).exists():
                return run_id


def tail(path: Path | None, lines: int, max_bytes: int = 256_000) -> str:
    """The last `lines` lines of a text file (reading at most its last `max_bytes`)."""
    if path is None or not path.is_file():
        return ""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - max_bytes))
        data = handle.read()
    text = data.decode("utf-8", errors="replace").replace("\r", "\n")
    return "\n".join(text.splitlines()[-lines:])
