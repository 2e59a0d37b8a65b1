"""YOLO and ViT train and predict with the network unreachable, and never try to reach it.

Every process of the run (the harness and its workers) starts with a sitecustomize that makes DNS lookups
and internet sockets fail and records each attempt; the test asserts the record stays empty.
"""
import json
import textwrap

from tests.conftest import ROOT, run_cli

BLOCK_NETWORK = textwrap.dedent("""
    import os, socket
    _record = os.environ["NETWORK_ATTEMPTS"]

    def _refuse(what):
        with open(_record, "a") as f:
            f.write(what + "\\n")
        raise OSError("network unreachable (blocked by the test)")

    _connect = socket.socket.connect
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _refuse(f"connect {address!r}")
        return _connect(self, address)

    socket.socket.connect = connect
    socket.socket.connect_ex = lambda self, address: connect(self, address) or 0
    socket.getaddrinfo = lambda host, *a, **k: _refuse(f"getaddrinfo {host!r}")
    socket.gethostbyname = lambda host: _refuse(f"gethostbyname {host!r}")
""")


def test_yolo_and_vit_run_offline_and_never_reach_the_network(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_NETWORK)
    attempts = tmp_path / "attempts.txt"
    home = tmp_path / "home"
    home.mkdir()
    env = {"PYTHONPATH": str(site), "NETWORK_ATTEMPTS": str(attempts), "HOME": str(home),
           "DIGITSUM_YOLO_COCO_WEIGHTS": str(tmp_path / "no-weights" / "yolov8n.pt"),
           "DIGITSUM_VIT_WEIGHTS": "", "HF_HUB_OFFLINE": "", "YOLO_OFFLINE": ""}
    out = tmp_path / "results"
    run = run_cli("--quick", "--approaches", "yolo_digits,yolo_coco,vit_finetune", "--budget", "12", "--retrain",
                  "--out", str(out),
                  "--latency-calls", "5", env=env, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {r["name"]: r for r in json.loads((out / "latest" / "results.json").read_text())["rows"]}

    assert rows["yolo_digits"]["status"] == "ok", rows["yolo_digits"]["reason"]
    assert 0 <= rows["yolo_digits"]["accuracy"] <= 1 and rows["yolo_digits"]["params"] > 1_000_000
    assert rows["yolo_coco"]["status"] == "skipped"
    assert "no-weights/yolov8n.pt" in rows["yolo_coco"]["reason"] and "never downloads" in rows["yolo_coco"]["reason"]
    assert rows["vit_finetune"]["status"] == "ok", rows["vit_finetune"]["reason"]
    assert "pre-trained here on single MNIST-train digits" in rows["vit_finetune"]["notes"]["init"]

    assert not attempts.exists(), "tried to reach the network:\n" + attempts.read_text()
    assert not (ROOT / "runs").exists() and not (tmp_path / "runs").exists()     # ultralytics' default output
    assert not any((home / ".config").glob("Ultralytics*"))                        # its default settings dir
    assert not list((ROOT / "data" / "yolo").glob("train-*"))                     # training output cleaned up
