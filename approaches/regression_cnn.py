"""The original report's baseline (section 2a): two convolution layers followed by a linear layer whose
output is the sum; regression with mean squared error and Adam. The report measured 16% exact-sum accuracy.
"""
import numpy as np
import torch
from torch import nn

from bench import Approach, register
from bench.train import TorchApproach, TrainConfig, images_to_tensor, train_model


@register
class RegressionCNN(TorchApproach, Approach):
    name = "regression_cnn"
    summary = "original report 2a: 2 conv layers + linear -> sum, MSE regression, Adam"
    default_budget = 60

    def __init__(self, channels=(16, 32), lr=1e-3, batch_size=64):
        self.channels = tuple(channels)
        self.lr = lr
        self.batch_size = batch_size

    def build_model(self):
        c1, c2 = self.channels
        return nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 40x168 -> 20x84
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # -> 10x42
            nn.Flatten(), nn.Linear(c2 * 10 * 42, 1),                       # the sum, scaled to 0..1
        )

    def preprocess(self, images):
        return images_to_tensor(images)

    def outputs_to_sums(self, outputs):
        return outputs.reshape(-1) * self.max_sum

    def fit(self, train, val, budget):
        self.max_sum = 9 * self.digit_range[1]
        self.model = self.build_model()
        targets = torch.as_tensor(train.sums, dtype=torch.float32) / self.max_sum
        self.history = train_model(
            self.model, self.preprocess(train.images), targets, self.preprocess(val.images), val.sums,
            loss_fn=lambda out, y: nn.functional.mse_loss(out.reshape(-1), y),
            to_sums=self.outputs_to_sums, budget=budget, device=self.device, seed=self.seed,
            config=TrainConfig(lr=self.lr, batch_size=self.batch_size, weight_decay=0.0, patience=8))

    def get_state(self):
        return {**super().get_state(), "max_sum": self.max_sum}

    def set_state(self, state):
        self.max_sum = int(state["max_sum"])
        super().set_state(state)
