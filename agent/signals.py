"""Ctrl-C and SIGTERM held back while racekit writes what a stopped run keeps (checkpoints, the logbook)."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


@contextmanager
def signals_held():
    """Ctrl-C and SIGTERM wait until the block is done, then reach their own handlers.

    torch.save interrupted midway replaces the KeyboardInterrupt with an error of its own, so a run
    stopped while writing would end with a traceback instead of its message. TensorBoard's writer, cut
    between queueing an event and waking its thread, left that thread asleep for its 120 s flush interval,
    and the stopped run's close waited for it. (Blocking the signal in this thread is not enough: torch's
    threads could take it.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals only ever reach Python handlers in the main thread
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        if caught:
            signal.raise_signal(caught[0])
