"""Runs one job in a process of its own and always comes back with a result: a job that raises, exits,
hangs past its timeout, runs out of its memory limit or prints without end costs its own result only.

Parent side: run_job() / run_isolated() start the process, relay its progress and warnings, enforce the
timeout and kill the process group at the end (locally, or on a Dask worker: bench.cluster). Child side:
the process leads its own process group, dies with its parent, writes its prints to its capped log, and
sends progress and one result through a queue.
"""
from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

LOG_LIMIT = 20 * 2**20        # bytes: the soft limit on every file the job writes (its log included)


def run_job(job: dict, on_progress, on_warning, cancelled=None) -> dict:
    """run_isolated() under the job's own timeout; the result also keeps the warnings the job gave, its
    wall time and the host it ran on."""
    warnings = []

    def warn(text):
        warnings.append(text)
        on_warning(text)

    started = time.monotonic()
    result = run_isolated(job, job["timeout"], on_progress, warn, cancelled)
    return {**result, "warnings": warnings, "wall_seconds": round(time.monotonic() - started, 1),
            "host": socket.gethostname()}


def run_isolated(job: dict, timeout: float, on_progress, on_warning, cancelled=None) -> dict:
    """Runs bench.evaluate.evaluate(job) in a fresh process; returns its result, or a failed result
    saying why there was none. `cancelled()`, when given, is asked now and then: True stops the job."""
    ctx = multiprocessing.get_context("spawn")
    messages = ctx.Queue()
    proc = ctx.Process(target=_child, args=(job, messages))   # not daemonic: approaches may start pools
    started = time.monotonic()
    proc.start()
    try:
        while True:
            try:
                msg = messages.get(timeout=0.2)
            except queue_module.Empty:
                if not proc.is_alive():
                    try:
                        msg = messages.get(timeout=1.0)
                    except queue_module.Empty:
                        return {"status": "failed",
                                "reason": f"worker process died without a result ({_why(proc, job)})"}
                elif time.monotonic() - started > timeout:
                    return {"status": "failed",
                            "reason": f"timed out after {timeout:.0f} s (--timeout); process killed"}
                elif cancelled is not None and cancelled():
                    return {"status": "failed", "reason": "cancelled by the client (Ctrl-C); process killed"}
                else:
                    continue
            kind = msg[0]
            if kind == "progress":
                on_progress(*msg[1:])
            elif kind == "warning":
                on_warning(msg[1])
            elif kind == "result":
                return msg[1]
    finally:
        _kill(proc)


def _why(proc, job) -> str:
    code = proc.exitcode
    why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    if code == -signal.SIGKILL and job.get("memory_limit_mb"):
        why += " (perhaps the memory limit)"
    return why


def _kill(proc) -> None:
    """Ends the job's process and everything it started (it leads its own process group)."""
    if proc.pid is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.join(timeout=5)


# ---------------------------------------------------------------------------------------- the child

def _child(job: dict, messages) -> None:
    os.setsid()                                  # its own process group: the parent can kill all it spawns
    _exit_with_parent()
    _redirect_output(job["log"])
    _limit_files()
    if job.get("memory_limit_mb"):
        import resource
        limit = int(job["memory_limit_mb"]) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def send(*msg):
        try:
            messages.put(msg)
        except Exception:  # noqa: BLE001 - the parent may be gone; nothing to do
            pass

    last = [0.0]

    def progress(desc, completed, total, **info):
        now = time.monotonic()
        if completed >= total or now - last[0] > 0.25:
            last[0] = now
            send("progress", desc, completed, total, {k: str(v) for k, v in info.items()})

    from bench.evaluate import ApproachFault, Stage, evaluate
    stage = Stage()
    try:
        result = evaluate(job, progress, lambda text: send("warning", text), stage)
    except ApproachFault as e:
        result = {"status": "failed", "reason": str(e)}
    except MemoryError:
        result = {"status": "failed", "reason": "ran out of memory (MemoryError)"}
    except BaseException as e:  # noqa: BLE001 - SystemExit, KeyboardInterrupt in a plugin cost its row only
        tb = traceback.extract_tb(e.__traceback__)
        where = next((f" at {Path(f.filename).name}:{f.lineno} in {f.name}" for f in reversed(tb)
                      if "/bench/" not in f.filename), "")
        _quietly(traceback.print_exc)      # the log may be full (an approach that printed without end)
        result = {"status": "failed", "reason": f"{stage.now}: {type(e).__name__}: {str(e)[:300]}{where}"}
    send("result", result)
    try:
        messages.close()
        messages.join_thread()          # the result must be through the pipe before we exit
    except Exception:  # noqa: BLE001
        pass
    _quietly(sys.stdout.flush), _quietly(sys.stderr.flush)
    os._exit(0)          # skip interpreter teardown: a plugin's stuck threads must not keep us alive


def _exit_with_parent() -> None:
    """A job whose parent is gone (killed, Ctrl-C'd twice) stops instead of training on unseen."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os.killpg(os.getpid(), 9)               # this process and whatever the approach started

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _redirect_output(log_path: str) -> None:
    """The job's own prints go to its log file, never into the parent's table or progress bars."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush(), sys.stderr.flush()
    os.dup2(fd, 1), os.dup2(fd, 2)
    os.close(fd)


def _limit_files() -> None:
    """Caps every file the job writes at LOG_LIMIT: one that prints without end fills its log, not the
    disk. bench.util.large_files_allowed() lifts it for big files an approach writes on purpose."""
    import resource
    resource.setrlimit(resource.RLIMIT_FSIZE, (LOG_LIMIT, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # a write past the cap fails instead of killing us


def _quietly(write) -> None:
    """Writes to the job's log unless it is full or gone: the result matters more than the log."""
    try:
        write()
    except OSError:
        pass
