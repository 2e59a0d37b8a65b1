"""A classical pipeline: OpenCV-style segmentation (column runs of ink, else connected pieces of ink; fragments
merged, touching digits split at their thinnest column; bench.blocks.segmentation), each digit normalised
MNIST style to 28x28, then a scikit-learn classifier (PCA to 50 dimensions + RBF support vector machine)
trained on single MNIST training digits. The sum is the sum of the digits read. No deep learning, no sum
labels needed. (torch is used only to store the fitted arrays as a checkpoint.)
"""
import cv2
import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.svm import SVC

from bench import Approach, register
from bench.blocks.segmentation import crops_of
from bench.data import load_mnist


def deskew(crops: np.ndarray) -> np.ndarray:
    """Straightens each 28x28 digit by its second image moments (the classic OpenCV recipe): a slanted
    or rotated digit is sheared upright, so the classifier sees less variation."""
    out = np.empty(crops.shape, np.float32)
    for i, c in enumerate(crops):
        m = cv2.moments(c)
        if abs(m["mu02"]) < 1e-2:
            out[i] = c
            continue
        skew = m["mu11"] / m["mu02"]
        shear = np.float32([[1, skew, -0.5 * 28 * skew], [0, 1, 0]])
        out[i] = cv2.warpAffine(c.astype(np.float32), shear, (28, 28), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR)
    return out


@register
class ClassicCV(Approach):
    name = "classic_cv"
    summary = "segmentation + PCA/RBF-SVM digit classifier trained on single MNIST digits (scikit-learn)"
    epochs = None               # one SVM fit on train_digits digits

    def __init__(self, train_digits=50000, components=50, C=10.0):
        self.train_digits = train_digits
        self.components = components
        self.C = C

    def fit(self, train, val, budget):
        digits, labels = load_mnist()["train"]                      # MNIST's training digits only
        n = min(self.train_digits, 2000 if budget.quick else self.train_digits)
        pick = np.random.default_rng(self.seed).permutation(len(digits))[:n]
        budget.progress("normalising MNIST digits", 0, 1)
        crops, counts = crops_of(digits[pick], (1, 1))             # the same cut as at prediction time
        x, labels = self.features(crops), labels[pick][counts == 1]
        budget.progress("fitting PCA + SVM", 0, 1)
        pca, svm = PCA(self.components, random_state=self.seed), SVC(C=self.C, gamma="scale")
        svm.fit(pca.fit_transform(x), labels)
        budget.progress("fitting PCA + SVM", 1, 1)
        # Keep the fitted model as plain arrays, so it can be cached as a checkpoint and reloaded safely.
        self.state = {"pca_mean": pca.mean_, "pca_components": pca.components_, "support_vectors": svm.support_vectors_,
                      "dual_coef": svm.dual_coef_, "intercept": svm.intercept_, "n_support": svm.n_support_,
                      "classes": svm.classes_, "gamma": np.array(svm._gamma)}
        self.state = {k: torch.as_tensor(np.asarray(v)) for k, v in self.state.items()}
        check = x[:500]
        agree = np.mean(self.classify(check) == svm.predict(pca.transform(check)))
        assert agree > 0.99, f"the array form of the SVM disagrees with scikit-learn ({agree:.3f})"
        self.notes["classifier_trained_on"] = f"{n} single MNIST training digits"

    def features(self, crops):
        return deskew(crops).reshape(len(crops), -1) / 255.0

    def classify(self, x):
        """PCA projection and the one-vs-one RBF SVM vote, from the fitted arrays (as scikit-learn's SVC)."""
        s = {k: v.numpy().astype(np.float32) if v.is_floating_point() else v.numpy() for k, v in self.state.items()}
        z = (x.astype(np.float32) - s["pca_mean"]) @ s["pca_components"].T      # float32: twice as fast
        sv = s["support_vectors"]
        kernel = np.exp(-s["gamma"] * ((z * z).sum(1)[:, None] - 2 * z @ sv.T + (sv * sv).sum(1)[None]))
        starts = np.concatenate([[0], np.cumsum(s["n_support"])])
        classes = len(s["classes"])
        votes, pair = np.zeros((len(z), classes), np.int64), 0
        for i in range(classes):
            for j in range(i + 1, classes):
                si, sj = slice(starts[i], starts[i + 1]), slice(starts[j], starts[j + 1])
                decision = (kernel[:, si] @ s["dual_coef"][j - 1, si] + kernel[:, sj] @ s["dual_coef"][i, sj]
                            + s["intercept"][pair])
                votes[np.arange(len(z)), np.where(decision > 0, i, j)] += 1
                pair += 1
        return s["classes"][votes.argmax(1)]

    def get_state(self):
        return self.state

    def set_state(self, state):
        self.state = state

    def predict_digits_batch(self, images):
        crops, counts = crops_of(images, self.digit_range)
        read = self.classify(self.features(crops)) if len(crops) else []
        out, start = [], 0
        for n in counts:
            out.append([int(d) for d in read[start:start + n]])
            start += n
        return out
