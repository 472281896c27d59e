"""Requests whose client went away mid-answer: the HTTP process tells the inference workers, which free their rows.

LitServe has no way to cancel a request it has queued, so without this a client that disconnects (a chat UI's
"stop", or an attacker opening streams and dropping them) leaves its row decoding to max_tokens. The gate does
not know which worker holds a request, so each worker has its own queue and every cancellation goes to all of
them; a worker drops the requests it holds, remembers for a while the ones it does not hold yet (a cancellation
can overtake its request), and ignores the rest. multiprocessing.Queue: putting never blocks the HTTP process
(a feeder thread writes), and a worker reads without blocking.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from multiprocessing.queues import Queue


class Cancellations:
    """Created before the server starts and sized (open) once LitServe knows its workers; LitServe's spawned
    processes get it pickled and share its queues."""

    def __init__(self) -> None:
        self.queues: list[Queue] = []

    def open(self, workers: int) -> None:
        self.queues = [mp.get_context("spawn").Queue() for _ in range(workers)]

    def cancel(self, request_id: str) -> None:
        """From the HTTP process: every worker hears of it."""
        for each in self.queues:
            each.put(request_id)

    def received(self) -> list[str]:
        """From a worker: every id waiting in its own queue (LitServe numbers its workers from 0), without blocking."""
        if not self.queues:
            return []
        own = self.queues[int(os.environ.get("LITSERVE_WORKER_ID", "0")) % len(self.queues)]
        ids = []
        while True:
            try:
                ids.append(own.get_nowait())
            except queue.Empty:
                return ids
