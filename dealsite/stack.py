"""The state file ``make run`` leaves in the checkout, so a second terminal acts on the
running demo with no extra environment.

``runstack`` gives its children the demo's Redis, simulator URL, key and clock through their
environment; an operator's shell has none of that. So ``runstack`` also writes them here
(``var/runstack.json``, gitignored, readable by its owner only) with its pid, and settings read
the file when the environment names nothing else and that pid is alive. A file whose pid has
gone is stale: commands then say that no stack is running instead of using its settings.

Only the simulator's key is ever written: with a real ``KEEPA_API_KEY`` the file names no key,
and a second terminal needs the key in its own environment. This module imports nothing of
Django, because settings import it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

#: Settings a live stack supplies, grouped by what must travel together: the Keepa key, its
#: URL and the demo clock belong to one simulator, so a real key never meets a demo URL.
KEEPA_GROUP = ("KEEPA_API_KEY", "KEEPA_BASE_URL", "TOKENS_CLOCK_SCALE", "TOKENS_CLOCK_EPOCH")
SINGLE = ("REDIS_URL", "DATABASE_URL")


@dataclass(frozen=True)
class Stack:
    """What the state file said, and whether the process that wrote it still runs."""

    path: Path
    pid: int
    alive: bool
    settings: dict[str, str] = field(default_factory=dict)
    namespace: str = ""

    def describe(self) -> str:
        return f"the stack started by `make run` (pid {self.pid}, state file {self.path})"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, though not ours to signal
        return True
    return True


def read(path: str | Path) -> Stack | None:
    """The stack the file describes, or None without a (readable) file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        pid = int(data["pid"])
        values = {str(name): str(value) for name, value in dict(data.get("settings", {})).items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Stack(
        path=path, pid=pid, alive=pid_alive(pid), settings=values, namespace=str(data.get("namespace", ""))
    )


def write(path: str | Path, *, pid: int, settings: dict[str, str], namespace: str) -> None:
    """Replace the file atomically, owner-only (it may hold a database password)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    unknown = set(settings) - set(KEEPA_GROUP) - set(SINGLE)
    if unknown:
        raise ValueError(f"not a stack setting: {', '.join(sorted(unknown))}")
    temporary = path.with_name(f".{path.name}.{pid}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"pid": pid, "namespace": namespace, "settings": settings}, handle, indent=2)
    os.replace(temporary, path)


def remove(path: str | Path, *, pid: int) -> None:
    """Delete the file if ``pid`` wrote it (a newer stack's file is left alone)."""
    stack = read(path)
    if stack is not None and stack.pid == pid:
        Path(path).unlink(missing_ok=True)


def environment(stack: Stack | None, environ: dict[str, str] | os._Environ) -> dict[str, str]:
    """The settings a live ``stack`` adds to ``environ``: each one the environment does not
    name; the Keepa group only when the environment names no key at all."""
    if stack is None or not stack.alive:
        return {}
    added = {name: stack.settings[name] for name in SINGLE if name in stack.settings and name not in environ}
    if not environ.get("KEEPA_API_KEY"):
        added.update({name: stack.settings[name] for name in KEEPA_GROUP if name in stack.settings})
    return added


def no_stack_message(stack: Stack | None) -> str:
    """What a command says when it needs Keepa and neither a stack nor the environment names one."""
    if stack is not None and stack.alive:  # a stack on the real API: its key is never written
        return (
            f"A stack is running from this checkout (pid {stack.pid}) on the real Keepa API, whose key "
            "is never written to its state file: set KEEPA_API_KEY in this terminal too."
        )
    stopped = f" (the last one, pid {stack.pid}, has stopped)" if stack is not None else ""
    return (
        f"No stack is running from this checkout{stopped}: start one with `make run`, "
        "or set KEEPA_API_KEY (and REDIS_URL) to act on a real deployment."
    )
