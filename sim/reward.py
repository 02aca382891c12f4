"""Loading and calling a user's `reward_function(params)` the way DeepRacer does, with clear errors.

A reward file is plain Python with `def reward_function(params) -> float`.
Every mistake becomes a RewardError whose message is one line naming the
user's file and line: a syntax error, no reward_function, a wrong signature,
an exception inside it, a result that is not a number, NaN or infinity. Any
finite number is accepted, as DeepRacer's simulator does.
"""
from __future__ import annotations

import hashlib
import inspect
import math
import re
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from racekit.sim.pasted import clean_pasted

# DeepRacer's params about other objects; on a race without objects their lists are empty
OBJECT_KEYS = ("closest_objects", "objects_location", "objects_left_of_center", "object_in_camera",
               "objects_speed", "objects_heading", "objects_distance", "objects_distance_from_center")


class RewardError(Exception):
    """A reward function that cannot be used; str() is one line with the file and line."""


@dataclass
class RewardFunction:
    """A validated reward function: call it with params, get a finite float back."""

    func: Callable[[dict], object]
    path: str  # the file it came from, or "<built-in>"
    sha256: str
    time_limit_s: float | None = None  # per call; DeepRacer's validator allows 5 s
    notes: list[str] = field(default_factory=list)  # what loading it changed: invisible characters taken out

    @property
    def first_line(self) -> int:
        return self.func.__code__.co_firstlineno

    def __call__(self, params: dict) -> float:
        try:
            if self.time_limit_s is None:
                value = self.func(params)
            else:
                with time_limit(self.time_limit_s):
                    value = self.func(params)
        except RewardError:
            raise
        except Exception as exc:  # the user's code may raise anything: report where
            raise RewardError(f"{self.path} line {self._line_of(exc)}: reward_function raised "
                              f"{type(exc).__name__}: {exc}{self._object_hint(exc, params)}") from None
        if isinstance(value, bool) or value is None:
            raise RewardError(f"{self.where(params)} returned {value!r}, not a number")
        try:
            reward = float(value)
        except (TypeError, ValueError):
            raise RewardError(f"{self.where(params)} returned {type(value).__name__} {value!r:.60}, "
                              f"not a number") from None
        if math.isnan(reward) or math.isinf(reward):
            raise RewardError(f"{self.where(params)} returned {reward}, not a finite number")
        return reward

    def where(self, params: dict) -> str:
        """'file line N: reward_function', N being the `return` that gave the value for these params.

        Found by calling the function once more under a profile hook (only after a failure, or for
        the check's warning, so the normal path pays nothing); falls back to the `def` line.
        """
        line = self.first_line
        code = self.func.__code__

        def hook(frame, event, arg):
            nonlocal line
            if event == "return" and frame.f_code is code:
                line = frame.f_lineno

        previous = sys.getprofile()
        sys.setprofile(hook)
        try:
            self.func(params)
        except Exception:  # it failed differently the second time: keep the def line
            pass
        finally:
            sys.setprofile(previous)
        return f"{self.path} line {line}: reward_function"

    def _object_hint(self, exc: Exception, params: dict) -> str:
        """For an IndexError or KeyError on an object key in a race without objects, say so: that
        function is written for object avoidance or head-to-bot, not broken."""
        if not isinstance(exc, (IndexError, KeyError)) or params.get("objects_location"):
            return ""
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == self.path]
        line = (frames[-1].line or "") if frames else ""
        keys = [k for k in OBJECT_KEYS if re.search(rf"\b{k}\b", line)]
        if isinstance(exc, KeyError) and exc.args and exc.args[0] in OBJECT_KEYS:
            keys = [exc.args[0]]
        if not keys:
            return ""
        return (f". It reads object params ({', '.join(keys)}) and this race has no objects: "
                f"use a race type with objects (--race-type object-avoidance or head-to-bot)")

    def _line_of(self, exc: BaseException) -> int:
        """The deepest line of the user's file in the exception's traceback."""
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == self.path]
        return frames[-1].lineno if frames else self.first_line


def load_reward(path: str | Path) -> RewardFunction:
    """Load `reward_function` from a Python file; raise RewardError naming the file on any fault."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RewardError(f"{name}: cannot read the reward file ({exc.__class__.__name__}: {exc})") from None
    source, pasted = clean_pasted(text)  # code pasted from a web page: invisible characters outside strings
    notes = [f"{name} line {line}: replaced {count} x {what} outside strings (pasted from a web page?)"
             for (line, what), count in Counter(pasted).items()]
    try:
        code = compile(source, name, "exec")
    except SyntaxError as exc:
        raise RewardError(f"{name} line {exc.lineno}: syntax error: {exc.msg}") from None
    namespace: dict = {"__name__": "racekit_reward", "__file__": name}
    try:
        exec(code, namespace)
    except Exception as exc:  # top-level code of the user's file failed
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == name]
        line = frames[-1].lineno if frames else 1
        raise RewardError(f"{name} line {line}: the file raised {type(exc).__name__}: {exc} when loaded") from None
    func = namespace.get("reward_function")
    if func is None:
        raise RewardError(f"{name}: no function named reward_function (DeepRacer calls reward_function(params))")
    if not inspect.isfunction(func):
        raise RewardError(f"{name}: reward_function is a {type(func).__name__}, not a function")
    try:
        inspect.signature(func).bind({})
    except TypeError:
        raise RewardError(f"{name} line {func.__code__.co_firstlineno}: reward_function{inspect.signature(func)} "
                          f"must take exactly one argument, params") from None
    return RewardFunction(func, name, hashlib.sha256(text.encode("utf-8")).hexdigest(), notes=notes)


def default_reward_function(params):
    """DeepRacer's default example: reward staying near the centre line."""
    track_width = params["track_width"]
    distance_from_center = params["distance_from_center"]
    if distance_from_center <= 0.1 * track_width:
        return 1.0
    if distance_from_center <= 0.25 * track_width:
        return 0.5
    if distance_from_center <= 0.5 * track_width:
        return 0.1
    return 1e-3  # likely crashed or close to off track


def as_reward_function(reward) -> RewardFunction:
    """Accept a RewardFunction, a path to a reward file, a plain callable, or None (the default)."""
    if isinstance(reward, RewardFunction):
        return reward
    if reward is None:
        reward = default_reward_function
    if isinstance(reward, (str, Path)):
        return load_reward(reward)
    if not callable(reward):
        raise RewardError(f"reward_function must be a path or a callable, got {type(reward).__name__}")
    source = inspect.getsource(reward) if inspect.isfunction(reward) else repr(reward)
    path = inspect.getsourcefile(reward) if inspect.isfunction(reward) else "<callable>"
    return RewardFunction(reward, path or "<callable>", hashlib.sha256(source.encode()).hexdigest())


class _TimeLimit(BaseException):  # BaseException: the user's `except Exception` must not swallow it
    pass


@contextmanager
def time_limit(seconds: float):
    """Raise RewardError naming the line that was running if the block takes longer than `seconds`.

    Uses SIGALRM, so it applies in the main thread only; elsewhere the block runs unlimited.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise _TimeLimit()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _TimeLimit as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
        where = f"{frames[-1].filename} line {frames[-1].lineno}" if frames else "reward file"
        raise RewardError(f"{where}: reward_function did not return within {seconds:g} s "
                          f"(an endless loop?)") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
