"""The original report's YOLO attempt (section 2c), and a YOLO digit detector that works.

- yolo_coco:   the report's attempt: COCO-pretrained YOLO on our images. COCO's 80 classes hold no digit,
               so it cannot produce sums; its row fails saying which classes it saw. It needs the weights
               file at DIGITSUM_YOLO_COCO_WEIGHTS (default data/weights/yolov8n.pt); without it the row is
               skipped and says where to put it (nothing is downloaded).
- yolo_digits: a nano detector built from ultralytics' yolov8n.yaml (no pre-trained weights) and trained
               from scratch on composed images with their per-digit boxes, 10 classes. Sum = sum of the
               detected classes above a confidence threshold chosen on the validation split, one box per
               digit (class-agnostic NMS), and as many boxes as the data's digit range allows (the most
               confident ones: a fifth box in a four-digit image is dropped, a missing fourth is taken
               from below the threshold).
               On a --data folder (sums only, no boxes) it trains on composed data and is evaluated on
               the folder's images; its notes say so.

Offline by construction: YOLO_OFFLINE and YOLO_AUTOINSTALL off, ultralytics' settings and a stand-in
Arial.ttf (matplotlib's DejaVuSans) under data/ultralytics, training output in a temporary folder under
data/yolo that is removed after training.
"""
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from bench import Approach, register
from bench.approach import need_file, need_module
from bench.data import DATA_DIR
from bench.util import large_files_allowed

YOLO_HOME = DATA_DIR / "ultralytics"
YOLO_WORK = DATA_DIR / "yolo"
COCO_WEIGHTS_ENV = "DIGITSUM_YOLO_COCO_WEIGHTS"
PIL_OPEN = Image.open                        # ultralytics replaces it when imported: see offline_ultralytics
os.environ["YOLO_OFFLINE"] = "1"             # read when ultralytics is imported (only inside functions below)
os.environ["YOLO_AUTOINSTALL"] = "0"
os.environ["YOLO_CONFIG_DIR"] = str(YOLO_HOME)


def offline_ultralytics():
    """Imports ultralytics with its settings inside the project and the font it would fetch already there,
    and undoes its process-wide patch of PIL.Image.open (which, on a file Pillow cannot read, tries to
    install pi-heif and raises ModuleNotFoundError instead of Pillow's error: --predict's reader broke)."""
    import ultralytics
    from ultralytics import YOLO  # noqa: F401 - the imports that patch PIL
    from ultralytics.utils import USER_CONFIG_DIR, torch_utils  # USER_CONFIG_DIR: YOLO_CONFIG_DIR/Ultralytics
    Image.open = PIL_OPEN
    torch_utils.NUM_THREADS = torch.get_num_threads()    # it would set cores - 1 threads whenever it picks the CPU
    font = Path(USER_CONFIG_DIR) / "Arial.ttf"
    if not font.exists():
        import matplotlib
        font.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf", font)
    return ultralytics


def as_bgr(images):
    """(N, H, W) grayscale -> list of (H, W, 3) uint8 arrays, the form ultralytics predicts on."""
    images = np.clip(np.asarray(images, np.float32), 0, 255).astype(np.uint8)
    return [cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) for image in images]


def write_yolo_split(split, folder: Path, limit=None) -> None:
    """Images as PNG and one label file per image ('class x_centre y_centre width height', 0..1)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    n = len(split) if limit is None else min(limit, len(split))
    h, w = split.images.shape[1:]
    for i in range(n):
        cv2.imwrite(str(folder / "images" / f"{i:06d}.png"), split.images[i])
        lines = [f"{d} {(x + bw / 2) / w:.6f} {(y + bh / 2) / h:.6f} {bw / w:.6f} {bh / h:.6f}"
                 for d, (x, y, bw, bh) in zip(split.digits[i], split.boxes[i]) if d >= 0 and bw > 0]
        (folder / "labels" / f"{i:06d}.txt").write_text("\n".join(lines) + "\n")


def yolo_dataset(train, val, val_limit) -> Path:
    """A YOLO-format copy of the train split (and a slice of val for ultralytics' own validation) under
    data/yolo/<hash>, written once per data; returns its dataset yaml."""
    digest = hashlib.sha256()
    for part in (train.images, train.digits, train.boxes, val.images[:val_limit]):
        digest.update(np.ascontiguousarray(part).tobytes())
    folder = YOLO_WORK / f"dataset-{digest.hexdigest()[:16]}"
    yaml_path = folder / "data.yaml"
    if not yaml_path.exists():
        YOLO_WORK.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=YOLO_WORK, prefix="writing-"))
        write_yolo_split(train, staging / "train")
        write_yolo_split(val, staging / "val", limit=val_limit)
        names = "\n".join(f"  {d}: '{d}'" for d in range(10))
        (staging / "data.yaml").write_text(f"path: {folder}\ntrain: train/images\nval: val/images\nnames:\n{names}\n")
        try:
            staging.rename(folder)        # another process may have written it meanwhile: keep theirs
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return yaml_path


def detections(results):
    """ultralytics Results -> per image a list of (x_centre, class, confidence)."""
    out = []
    for r in results:
        boxes = r.boxes
        xs = boxes.xywh[:, 0].tolist() if len(boxes) else []
        out.append(list(zip(xs, boxes.cls.int().tolist(), boxes.conf.tolist())))
    return out


def anneal_by_time(trainer) -> None:
    """In equal-time mode: learning rate by the share of the time budget spent, falling linearly to lrf.
    ultralytics' own schedule falls by epochs, so a time budget that ends inside the first epoch would
    never lower it. Set after each batch for the next one; during ultralytics' warm-up its own rate, set
    before each batch, wins."""
    spent = (time.time() - trainer.train_time_start) / (trainer.args.time * 3600)
    factor = max(trainer.args.lrf, 1 - (1 - trainer.args.lrf) * min(1.0, spent))
    for group in trainer.optimizer.param_groups:
        group["lr"] = group["initial_lr"] * factor


class YOLODigits(Approach):
    name = "yolo_digits"
    summary = "YOLOv8n from yolov8n.yaml trained from scratch on composed digit boxes; sum of detected digits"
    epochs = 3

    def __init__(self, model_yaml="yolov8n.yaml", imgsz=128, batch=32, lr=0.002, val_images=500, low_conf=0.05,
                 scale=0.1, class_loss_gain=0.5):
        self.model_yaml = model_yaml
        self.imgsz = imgsz      # 256 learns more in long runs (docs/approaches.md); 128 for the default
        self.batch = batch
        self.lr = lr
        self.val_images = val_images
        self.low_conf = low_conf
        self.scale = scale      # random rescaling of training images, +-scale (ultralytics' 0.5 learnt slower)
        self.class_loss_gain = class_loss_gain  # ultralytics' 0.5 (1.5: docs/approaches.md)
        self.conf = 0.25
        self.yolo = None

    def requirements(self):
        return [need_module("ultralytics", "install it with: pip install -r requirements.txt")]

    def fit(self, train, val, budget):
        offline_ultralytics()
        from ultralytics import YOLO
        if train.boxes is None or train.digits is None:
            from bench.data import composed_dataset
            composed = composed_dataset(len(train), len(val), 10, digits=self.digit_range, seed=self.seed)
            train, val = composed.train, composed.val
            self.notes["trained_on"] = ("composed data (the given data has no digit boxes); "
                                        "evaluated on the given images")
        budget.progress("writing YOLO dataset", 0, 1)
        yaml_path = yolo_dataset(train, val, self.val_images)
        budget.progress("writing YOLO dataset", 1, 1)
        YOLO_WORK.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=YOLO_WORK, prefix="train-"))
        model = YOLO(self.model_yaml)
        self.history = []
        model.add_callback("on_fit_epoch_end", lambda trainer: self.record_epoch(trainer, val, budget))
        if budget.seconds is None:       # work: ultralytics' own schedule over the epochs
            length = dict(epochs=budget.epochs)
            done = lambda trainer: trainer.epoch / budget.epochs
        else:                            # equal time: its time limit, and the learning rate falls with the clock
            length = dict(epochs=100, time=max(budget.remaining(), 1) / 3600)
            done = lambda trainer: min(1.0, budget.elapsed() / budget.seconds)
            model.add_callback("on_train_batch_end", anneal_by_time)
        model.add_callback("on_train_batch_end", lambda trainer: budget.progress(
            f"{self.name} epoch {trainer.epoch + 1}", done(trainer), 1))
        try:
            with large_files_allowed():         # ultralytics' last.pt holds optimizer state: over the log cap
                model.train(data=str(yaml_path), imgsz=self.imgsz, **length, batch=self.batch, workers=0,
                            device="cpu" if self.device == "cpu" else 0, project=str(work), name="run",
                            exist_ok=True, amp=False, plots=False, verbose=False, seed=self.seed, deterministic=True,
                            rect=True, fliplr=0.0, mosaic=0.0, hsv_h=0.0, hsv_s=0.0, hsv_v=0.0, scale=self.scale,
                            pretrained=False, patience=100, warmup_epochs=0.2, close_mosaic=0, optimizer="AdamW",
                            lr0=self.lr, cls=self.class_loss_gain)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        # after training, ultralytics has loaded the best epoch's weights (by its validation mAP) into model.model
        self.weights = {k: v.detach().float().clone() for k, v in model.model.state_dict().items()}
        self.yolo = self.load(self.weights)
        _, self.conf = self.best_threshold(self.yolo, val.images[:1000], val.sums[:1000])
        self.notes["confidence_threshold"] = round(self.conf, 3)

    def best_threshold(self, yolo, images, sums):
        """(exact-sum accuracy, confidence threshold) of the threshold that does best on these images."""
        found = self.detect(images, self.low_conf, yolo)
        truth = np.asarray(sums)
        best = (-1.0, self.conf)
        for conf in np.arange(self.low_conf, 0.95, 0.025):
            predicted = np.array([sum(c for _, c, _ in self.read(image, conf)) for image in found])
            best = max(best, (float((predicted == truth).mean()), float(conf)))
        return best

    def record_epoch(self, trainer, val, budget):
        """After each epoch: exact-sum accuracy of the epoch's (EMA) weights on 500 val images, for the
        training curve (ultralytics itself validates by mAP)."""
        weights = {k: v.detach().float().clone() for k, v in trainer.ema.ema.state_dict().items()}
        accuracy, _ = self.best_threshold(self.load(weights), val.images[:500], val.sums[:500])
        self.history.append({"epoch": trainer.epoch + 1, "seconds": round(budget.elapsed(), 2),
                             "val_accuracy": accuracy,
                             "images_seen": (trainer.epoch + 1) * len(trainer.train_loader.dataset)})

    def load(self, weights: dict):
        """A YOLO object around a DetectionModel built from the yaml with these weights (no pickle loaded)."""
        offline_ultralytics()
        from ultralytics import YOLO
        from ultralytics.nn.tasks import DetectionModel
        model = DetectionModel(self.model_yaml, nc=10, verbose=False)
        model.load_state_dict(weights)
        model.names = {d: str(d) for d in range(10)}
        yolo = YOLO(self.model_yaml, task="detect")
        yolo.model = model.eval()
        return yolo

    def detect(self, images, conf, yolo=None):
        """Per image its detections at confidence >= conf, one box per digit: class-agnostic NMS keeps a
        digit read as two classes once (digits never overlap enough to suppress each other)."""
        device = "cpu" if self.device == "cpu" else 0
        results = (yolo or self.yolo).predict(as_bgr(images), imgsz=self.imgsz, conf=conf, verbose=False, device=device,
                                    batch=len(images), max_det=3 * self.digit_range[1], agnostic_nms=True,
                                    stream=True)        # a generator: ultralytics warns of a list's memory
        return detections(results)

    def read(self, image, conf):
        """The digits an image's detections stand for: those at >= conf, but no fewer than the data's
        fewest digits and no more than its most (the most confident ones), left to right."""
        ranked = sorted(image, key=lambda d: -d[2])
        above = sum(p >= conf for _, _, p in ranked)
        return sorted(ranked[:min(max(self.digit_range[0], above), self.digit_range[1])])

    def predict_digits_batch(self, images):
        found = self.detect(images, self.low_conf)
        return [[c for _, c, _ in self.read(image, self.conf)] for image in found]

    def get_state(self):
        return {"model": self.weights, "conf": self.conf, "digit_range": list(self.digit_range)}

    def set_state(self, state):
        self.weights = state["model"]
        self.conf, self.digit_range = float(state["conf"]), tuple(int(d) for d in state["digit_range"])
        self.yolo = self.load(self.weights)

    def parameter_count(self):
        return sum(p.numel() for p in self.yolo.model.parameters()) if self.yolo else None


class YOLOCoco(Approach):
    name = "yolo_coco"
    summary = "original report 2c: COCO-pretrained YOLO; no digit class among COCO's 80, so no sums"

    def __init__(self, sample=200):
        self.sample = sample
        self.weights = os.environ.get(COCO_WEIGHTS_ENV, str(DATA_DIR / "weights" / "yolov8n.pt"))

    def requirements(self):
        return [need_module("ultralytics", "install it with: pip install -r requirements.txt"),
                need_file(self.weights, "COCO-pretrained YOLO weights",
                          f"put yolov8n.pt there or set {COCO_WEIGHTS_ENV} (this bench never downloads it)")]

    def fit(self, train, val, budget):
        """What COCO's classes make of our images (on a sample of val); the row then fails with it."""
        offline_ultralytics()
        from ultralytics import YOLO
        model = YOLO(self.weights)
        seen = {}
        for r in model.predict(as_bgr(val.images[:self.sample]), verbose=False, device="cpu", conf=0.25):
            for c in r.boxes.cls.int().tolist():
                seen[r.names[c]] = seen.get(r.names[c], 0) + 1
        self.seen = ", ".join(f"{name} x{count}" for name, count in sorted(seen.items(), key=lambda kv: -kv[1]))
        self.notes["coco_classes_seen"] = self.seen or "nothing"

    def predict_batch(self, images):
        raise RuntimeError(f"COCO's 80 classes hold no digit, so no sum can be formed; on {self.sample} val images "
                           f"it detected: {self.seen or 'nothing'}")


register(YOLODigits)
register(YOLOCoco, reported={"text": "could not be used", "where": "2c YOLO: no digit categories"})
