"""Runs on a real Dask cluster: a scheduler and two single-job workers, each a process of its own on
127.0.0.1, give the accuracies of the local run; a worker killed during a job costs no row (the job is
run again on the other); an unusable --cluster is one line and exit code 2; a data folder a worker cannot
read is a failed row with its reason."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, run_cli

APPROACHES = "classic_cv,regression_cnn,slot_cnn_sum_only"
QUICK = ("--quick", "--threads", "1", "--latency-calls", "5", "--retrain")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """`dask scheduler` and `dask worker --nthreads 1` processes, as a user starts them by hand."""

    def __init__(self, logs, workers: int = 2):
        self.address = f"tcp://127.0.0.1:{free_port()}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
        dask = [sys.executable, "-m", "dask"]
        self.scheduler = subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port",
                                           self.address.rsplit(":", 1)[1], "--no-dashboard"], cwd=ROOT, env=env,
                                          stdout=open(logs / "scheduler.log", "w"), stderr=subprocess.STDOUT)
        self.workers = {f"w{i}": subprocess.Popen([*dask, "worker", self.address, "--nthreads", "1", "--no-nanny",
                                                   "--no-dashboard", "--name", f"w{i}"], cwd=ROOT, env=env,
                                                  stdout=open(logs / f"w{i}.log", "w"), stderr=subprocess.STDOUT)
                        for i in range(workers)}
        from distributed import Client
        self.client = Client(self.address, timeout=60)
        self.client.wait_for_workers(workers, timeout=60)

    def close(self):
        self.client.close()
        for proc in [*self.workers.values(), self.scheduler]:
            proc.kill()
            proc.wait()


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(tmp_path)
    yield cluster
    cluster.close()


def accuracies(out):
    rows = json.loads((out / "latest" / "results.json").read_text())["rows"]
    return {r["name"]: r["accuracy_per_seed"] for r in rows}, rows


def test_a_cluster_run_gives_the_local_run_s_accuracies(cluster, tmp_path):
    common = (*QUICK, "--approaches", APPROACHES, "--seeds", "0,1")
    local = run_cli(*common, "--out", str(tmp_path / "local"), "--cache", str(tmp_path / "local-cache"))
    assert local.returncode == 0, local.stdout + local.stderr
    remote = run_cli(*common, "--cluster", cluster.address, "--out", str(tmp_path / "cluster"),
                     "--cache", str(tmp_path / "cluster-cache"))
    assert remote.returncode == 0, remote.stdout + remote.stderr
    expected, _ = accuracies(tmp_path / "local")
    found, rows = accuracies(tmp_path / "cluster")
    assert found == expected and len(found) == 3 and all(len(a) == 2 and None not in a for a in found.values())
    meta = json.loads((tmp_path / "cluster" / "latest" / "results.json").read_text())["meta"]
    assert meta["executor"]["kind"] == "dask" and meta["executor"]["workers"] == 2
    assert meta["executor"]["jobs_at_once"] == {"127.0.0.1": 2}
    per_seed = [r for row in rows for r in row["per_seed"]]
    assert all(r["threads"] == 1 and r["host"] == socket.gethostname() for r in per_seed)
    assert any(p.name.startswith("regression_cnn") for p in (tmp_path / "cluster-cache").iterdir())
    assert "2 jobs ran at once on 127.0.0.1" in (tmp_path / "cluster" / "latest" / "results.md").read_text()


def test_a_worker_lost_during_a_job_costs_no_row(cluster, tmp_path):
    out = tmp_path / "results"
    run = subprocess.Popen([sys.executable, str(ROOT / "run_bench.py"), *QUICK, "--approaches",
                            "regression_cnn,slot_cnn_sum_only", "--cluster", cluster.address, "--out", str(out),
                            "--cache", str(tmp_path / "cache")], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    names = {addr: info["name"] for addr, info in cluster.client.scheduler_info()["workers"].items()}
    deadline, busy = time.monotonic() + 120, []
    while not busy and time.monotonic() < deadline:
        time.sleep(0.5)
        busy = [addr for addr, tasks in cluster.client.processing().items() if tasks]
    assert busy, "no job started within 120 s"
    time.sleep(3)                                       # the job's own process is training by now
    victim = cluster.workers[names[busy[0]]]
    victim.send_signal(signal.SIGKILL)
    output = run.communicate(timeout=600)[0]
    assert run.returncode == 0, output
    _, rows = accuracies(out)
    assert sorted(r["name"] for r in rows) == ["regression_cnn", "slot_cnn_sum_only"]
    assert all(r["status"] == "ok" for r in rows), rows
    assert victim.poll() is not None and len(cluster.client.scheduler_info()["workers"]) == 1


def test_a_cluster_that_cannot_be_used_is_one_line_and_exit_code_2(tmp_path):
    for address, says in [("tcp//nowhere", "--cluster takes tcp://HOST:PORT"), ("local:0", "--cluster takes"),
                          (f"tcp://127.0.0.1:{free_port()}", "cannot reach a Dask scheduler at")]:
        started = time.monotonic()
        run = run_cli("--quick", "--approaches", "classic_cv", "--cluster", address, "--out", str(tmp_path))
        assert run.returncode == 2 and says in run.stdout, run.stdout + run.stderr
        assert "Traceback" not in run.stdout + run.stderr and time.monotonic() - started < 60
        assert not any(tmp_path.iterdir())               # nothing ran, nothing written


def test_a_data_folder_a_worker_cannot_read_is_a_failed_row(cluster, tmp_path):
    from bench.cluster import job_on_worker
    from bench.discovery import discover
    from bench.runner import Run, make_job
    entry = discover([])[0]["classic_cv"]
    spec = {"data": str(tmp_path / "not-on-this-worker"), "test_data": None, "digits": [4, 4], "seed": 0,
            "sizes": [400, 100, 100]}
    job = make_job(Run(tmp_path, {}, None), entry, 0, {"data": spec, "seeds": [0], "threads": 1, "device": "cpu",
                                                       "budget": None, "quick": True, "retrain": False,
                                                       "latency_calls": 5, "memory_limit_mb": None, "cache": None},
                   timeout=120)
    topics = {"progress": "test-progress", "warning": "test-warning"}
    result = cluster.client.submit(job_on_worker, job, "k", topics, "test-cancel", pure=False).result(timeout=120)
    assert result["status"] == "failed" and "not-on-this-worker" in result["reason"], result


def test_local_n_starts_its_own_workers(tmp_path):
    run = run_cli(*QUICK, "--approaches", "classic_cv,regression_cnn", "--cluster", "local:2", "--out",
                  str(tmp_path), "--cache", str(tmp_path / "cache"))
    assert run.returncode == 0, run.stdout + run.stderr
    _, rows = accuracies(tmp_path)
    assert [r["status"] for r in rows] == ["ok", "ok"], rows
