"""Tesseract OCR (the real binary, through pytesseract) reads the digits; the sum is the sum of what it read.

- tesseract_ocr:       the original report's approach (section 2b): the whole image, dark digits on light
                       (the only conversion: Tesseract reads dark on light), no fine-tuning.
- tesseract_ocr_tuned: each digit cut out (bench.blocks.segmentation), upscaled, thresholded, thickened
                       and spaced out on a clean line, read with a digits whitelist; the page segmentation
                       mode and the stroke thickening are chosen on the validation split.

Speed: each tesseract call starts a process. The tuned variant tiles many images into
one page per call, one image per line, and maps each word read back to its image by its position on
the page. The faithful variant keeps one call per image (tiling would change what Tesseract's page
layout analysis sees) and runs several calls at once instead.
"""
import hashlib
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from bench import Approach, Requirement, register
from bench.blocks.segmentation import crops_of

LINE_GAP = 24          # white pixels between the lines of a page
PAGE_LINES = 60        # images per tesseract call


def tesseract_version(cmd):
    try:
        out = subprocess.run([cmd, "--version"], capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).split("\n", 1)[0]
    except (OSError, subprocess.SubprocessError):
        return None


class TesseractOCR(Approach):
    name = "tesseract_ocr"
    summary = "original report 2b: pytesseract on the whole image, digits summed, no fine-tuning"

    def __init__(self, mode="whole", tesseract_cmd=None, workers=3, psm=None, thicken=None):
        self.mode = mode
        self.tesseract_cmd = tesseract_cmd or os.environ.get("TESSERACT_CMD", "tesseract")
        self.workers = workers
        self.psm = psm              # None: default (whole) or chosen on the val split (tuned)
        self.thicken = thicken

    def requirements(self):
        found = tesseract_version(self.tesseract_cmd)
        self.notes["tesseract"] = found
        return [Requirement(found is not None, f"tesseract ({found})" if found else
                            f"tesseract not found ({self.tesseract_cmd})",
                            "install it with: apt-get install tesseract-ocr")]

    # ----------------------------------------------------------------- one image -> one line of a page
    def line_image(self, image, thicken):
        """Dark-on-light line for one image."""
        image = np.clip(np.asarray(image, np.float32), 0, 255).astype(np.uint8)
        if self.mode == "whole":
            return 255 - image                                     # the only conversion: dark on light
        crops, _ = crops_of(image[None], self.digit_range)
        parts = []
        for c in crops:
            big = cv2.resize(c, (56, 56), interpolation=cv2.INTER_CUBIC)
            binary = (big > 100).astype(np.uint8) * 255
            if thicken:
                binary = cv2.dilate(binary, np.ones((thicken, thicken), np.uint8))
            parts.append(np.pad(255 - binary, ((12, 12), (16, 16)), constant_values=255))
        if not parts:
            return np.full((80, 80), 255, np.uint8)
        return np.hstack(parts)

    def config(self, psm):
        cfg = f"--psm {psm}" if psm else ""
        if self.mode == "tuned":
            cfg += " -c tessedit_char_whitelist=0123456789 -c tessedit_do_invert=0"   # no second, inverted pass
        return cfg.strip()

    def read_page(self, lines, psm):
        """Tiles lines into one page, one tesseract call, and maps the words back by position."""
        pytesseract = self.pytesseract()
        width = max(line.shape[1] for line in lines) + 2 * LINE_GAP
        tops, y = [], LINE_GAP
        for line in lines:
            tops.append(y)
            y += line.shape[0] + LINE_GAP
        page = np.full((y, width), 255, np.uint8)
        for top, line in zip(tops, lines):
            page[top:top + line.shape[0], LINE_GAP:LINE_GAP + line.shape[1]] = line
        data = pytesseract.image_to_data(page, config=self.config(psm), output_type=pytesseract.Output.DICT)
        words = [[] for _ in lines]
        bottoms = [top + line.shape[0] for top, line in zip(tops, lines)]
        for text, left, top, height in zip(data["text"], data["left"], data["top"], data["height"]):
            digits = re.sub(r"\D", "", text or "")
            if not digits:
                continue
            middle = top + height / 2
            for i, (a, b) in enumerate(zip(tops, bottoms)):
                if a - LINE_GAP / 2 <= middle < b + LINE_GAP / 2:
                    words[i].append((left, digits))
                    break
        return ["".join(d for _, d in sorted(w)) for w in words]

    def pytesseract(self):
        """pytesseract, pointed at our binary; each tesseract process it starts uses one core (we run
        several at once). Only tesseract's environment changes: OMP_THREAD_LIMIT in ours would reach
        torch in processes we start and stall its bf16 convolutions."""
        import pytesseract
        pytesseract.pytesseract.tesseract_cmd = self.tesseract_cmd
        pytesseract.pytesseract.environ = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        return pytesseract

    def read_one(self, line, psm):
        pytesseract = self.pytesseract()
        return re.sub(r"\D", "", pytesseract.image_to_string(line, config=self.config(psm)))

    def read(self, images, psm, thicken):
        """The digit string Tesseract reads in each image. The last answer is remembered: the runner asks
        for the sums and then the digits of the same images, and a second pass would double the cost."""
        images = np.ascontiguousarray(images)
        key = (hashlib.sha1(images.tobytes()).hexdigest(), images.shape, psm, thicken)
        if getattr(self, "_last_read", (None,))[0] == key:
            return list(self._last_read[1])
        texts = self._read(images, psm, thicken)
        self._last_read = (key, texts)
        return list(texts)

    def _read(self, images, psm, thicken):
        lines = [self.line_image(img, thicken) for img in images]
        if self.mode == "whole":
            with ThreadPoolExecutor(self.workers) as pool:
                return list(pool.map(lambda line: self.read_one(line, psm), lines))
        pages = [lines[i:i + PAGE_LINES] for i in range(0, len(lines), PAGE_LINES)]
        with ThreadPoolExecutor(self.workers) as pool:       # threads: each call is its own tesseract process
            read = list(pool.map(lambda page: self.read_page(page, psm), pages))
        return [text for page in read for text in page]

    # ----------------------------------------------------------------- the contract
    def predict_digits_batch(self, images):
        return [[int(c) for c in text] for text in self.read(images, self.psm, self.thicken or 0)]


class TunedTesseractOCR(TesseractOCR):
    """The tuned variant learns nothing, but chooses its page segmentation mode and stroke thickening on
    the validation split (its fit)."""
    epochs = None

    def fit(self, train, val, budget):
        if self.psm is not None:
            return
        sample = np.asarray(val.images[: 60 if budget.quick else 300])
        truth = val.sums[: len(sample)]
        scores = {}
        for psm in (6, 7, 11):
            for thicken in (0, 3):
                sums = [sum(int(c) for c in text) for text in self.read(sample, psm, thicken)]
                scores[(psm, thicken)] = float(np.mean(np.array(sums) == truth))
        self.psm, self.thicken = max(scores, key=scores.get)
        best = scores[(self.psm, self.thicken)]
        self.notes["chosen_on_val"] = f"psm {self.psm}, thicken {self.thicken} (val acc {best:.3f} on {len(sample)})"

    def get_state(self):
        return {"psm": int(self.psm), "thicken": int(self.thicken or 0)}

    def set_state(self, state):
        self.psm, self.thicken = int(state["psm"]), int(state["thicken"])


register(TesseractOCR, reported={"val": 7.8, "where": "2b OCR: 7.8% on 10,000 samples (one third of the dataset)",
                                 "on": "test"})
register(TunedTesseractOCR, name="tesseract_ocr_tuned", mode="tuned",
         summary="tesseract on segmented, upscaled, thresholded digits with a digits whitelist; psm chosen on val")
