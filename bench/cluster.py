"""A run's jobs on a Dask cluster: `--cluster tcp://HOST:PORT` sends them to a running scheduler,
`--cluster local:N` starts a LocalCluster of N single-job worker processes on this machine.

Each job still runs in a process of its own on its worker (bench.sandbox: timeout, memory limit, a crash
costs its row only); the worker rebuilds the data from the job's plain description and reads and writes
checkpoints in the job's cache folder, so nothing large travels through the scheduler. Rows come back to
the client as jobs finish. A job whose worker is lost is run again elsewhere as often as the scheduler's
`distributed.scheduler.allowed-failures` says (1 for local:N), then gets a failed row naming the worker.
"""
from __future__ import annotations

import multiprocessing
import re
import threading
import time
import uuid

from bench.sandbox import run_job

CONNECT_SECONDS = 10          # to reach the scheduler, and for it to have a worker
CANCEL_POLL_SECONDS = 2.0     # how often a job on a worker asks whether the client cancelled the run


class ClusterError(Exception):
    """The cluster cannot be used (a malformed address, no scheduler there, no workers): one line, exit 2."""


def parse_address(text: str) -> tuple[str, str | int]:
    """'local:N' -> ("local", N); 'tcp://HOST:PORT' -> ("tcp", the address); else a ClusterError."""
    if m := re.fullmatch(r"local:(\d+)", text.strip()):
        if int(m.group(1)) >= 1:
            return "local", int(m.group(1))
    elif re.fullmatch(r"tcp://[A-Za-z0-9.\-]+:\d{1,5}", text.strip()):
        return "tcp", text.strip()
    raise ClusterError(f"--cluster takes tcp://HOST:PORT (a running Dask scheduler) or local:N (N workers on "
                       f"this machine), not {text!r}")


class DaskExecutor:
    """Runs jobs on a Dask cluster, each worker one job at a time; yields (job, result) as they finish."""

    def __init__(self, address: str):
        kind, where = parse_address(address)
        import logging

        import dask
        from distributed import Client, LocalCluster
        self.cluster = None
        if kind == "local":
            # for as long as this process runs the cluster (a nanny restarting a lost worker reads it again):
            # a worker must be able to start the job's own process, which a daemonic process cannot
            dask.config.set({"distributed.scheduler.allowed-failures": 1, "distributed.worker.daemon": False})
            self.cluster = LocalCluster(n_workers=where, threads_per_worker=1, processes=True, host="127.0.0.1",
                                        dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(where, timeout=CONNECT_SECONDS)
            except (OSError, TimeoutError) as e:
                raise ClusterError(f"cannot reach a Dask scheduler at {where} within {CONNECT_SECONDS} s "
                                   f"({type(e).__name__}: {e})") from None
            try:
                self.client.wait_for_workers(1, timeout=CONNECT_SECONDS)
            except TimeoutError:
                self.client.close()
                raise ClusterError(f"the Dask scheduler at {where} has no workers (waited {CONNECT_SECONDS} s)") \
                    from None
        self.address = self.client.scheduler.address
        self.allowed_failures = self.client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures)
        self.cancel, self.futures = None, []

    def describe(self) -> dict:
        """The cluster as the run's metadata keeps it: the workers and how many jobs each host ran at once."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        at_once = {}
        for info in workers.values():
            at_once[info["host"]] = at_once.get(info["host"], 0) + info["nthreads"]
        return {"kind": "dask", "scheduler": self.address, "workers": len(workers), "jobs_at_once": at_once,
                "retries_after_a_lost_worker": self.allowed_failures}

    def results(self, jobs: list[dict], display):
        from distributed import Event, KilledWorker, as_completed
        run_key = uuid.uuid4().hex[:8]
        topics = {"progress": f"digitsum-progress-{run_key}", "warning": f"digitsum-warning-{run_key}"}
        self.cancel = Event(f"digitsum-cancel-{run_key}", client=self.client)
        by_key = {f"{job['label']}-{run_key}": job for job in jobs}
        bars, finished, lock = {}, set(), threading.Lock()

        def on_progress(event):
            msg = event[1]
            with lock:
                if msg["key"] in finished:
                    return
                if msg["key"] not in bars:
                    bars[msg["key"]] = display.job(by_key[msg["key"]]["label"], msg["worker"])
                    display.queue(len(jobs) - len(finished) - len(bars), len(bars))
                bars[msg["key"]](msg["desc"], msg["completed"], msg["total"], msg["info"])

        def on_warning(event):
            msg = event[1]
            display.warn(f"{by_key[msg['key']]['label']}: {msg['text']}")

        self.client.subscribe_topic(topics["progress"], on_progress)
        self.client.subscribe_topic(topics["warning"], on_warning)
        display.queue(len(jobs), 0)
        self.futures = [self.client.submit(job_on_worker, job, key, topics, self.cancel.name, key=key, pure=False)
                        for key, job in by_key.items()]
        try:
            for future in as_completed(self.futures):
                try:
                    result = future.result()
                except KilledWorker as e:
                    result = {"status": "failed", "reason": f"its Dask worker was lost {self.allowed_failures + 1} "
                              f"time(s), the last one {e.last_worker.address}"}
                except Exception as e:  # noqa: BLE001 - whatever Dask raises costs this job's row only
                    result = {"status": "failed", "reason": f"on the cluster: {type(e).__name__}: {str(e)[:300]}"}
                with lock:
                    finished.add(future.key)
                    bars.pop(future.key, None)
                    display.queue(len(jobs) - len(finished) - len(bars), len(bars))
                yield by_key[future.key], result
        finally:
            for topic in topics.values():
                self.client.unsubscribe_topic(topic)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        """Ends the session; jobs still queued or running (an interrupted run) are cancelled, and those
        running stop their processes."""
        unfinished = [f for f in self.futures if not f.done()]
        if unfinished:
            self.cancel.set()
            self.client.cancel(unfinished, force=True)
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def job_on_worker(job: dict, key: str, topics: dict, cancel_name: str) -> dict:
    """On a Dask worker: the job in a process of its own (bench.sandbox.run_job), its progress and warnings
    sent to the client as events, stopped when the client cancels the run."""
    from distributed import Event, get_worker
    worker = get_worker()
    if multiprocessing.current_process().daemon:
        return {"status": "failed", "reason": f"Dask worker {worker.address} is a daemonic process, which cannot "
                "start the job's process: start workers with DASK_DISTRIBUTED__WORKER__DAEMON=False, or "
                "with dask worker --no-nanny"}
    cancel = Event(cancel_name)
    asked = {"at": time.monotonic(), "set": False}

    def cancelled() -> bool:
        if time.monotonic() - asked["at"] > CANCEL_POLL_SECONDS:
            asked.update(at=time.monotonic(), set=cancel.is_set())
        return asked["set"]

    def progress(desc, completed, total, info):
        worker.log_event(topics["progress"], {"key": key, "worker": worker.address, "desc": desc,
                                              "completed": completed, "total": total, "info": info})

    def warning(text):
        worker.log_event(topics["warning"], {"key": key, "text": text})

    return run_job(job, progress, warning, cancelled)
