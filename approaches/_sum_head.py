"""Shared helper (not an approach: files starting with _ are skipped by discovery): the output head of a
whole-image model that reads the sum, as the original report did (regression: one output, MSE on sum/max)
or as a classifier over every possible sum (max + 1 logits, cross-entropy). Used by cnn_attention.py and
vit.py; a subclass sets self.head ("regression" or "classification") and self.max_sum before building.
"""
from torch import nn


class SumHead:
    head: str = "regression"
    max_sum: int

    def num_outputs(self) -> int:
        return self.max_sum + 1 if self.head == "classification" else 1

    def outputs_to_sums(self, outputs):
        if self.head == "classification":
            return outputs.argmax(1).float()
        return outputs.reshape(-1) * self.max_sum

    def loss(self, outputs, sums):
        if self.head == "classification":
            return nn.functional.cross_entropy(outputs, sums)
        return nn.functional.mse_loss(outputs.reshape(-1), sums.float() / self.max_sum)

    def get_state(self):
        return {**super().get_state(), "max_sum": self.max_sum}

    def set_state(self, state):
        self.max_sum = int(state["max_sum"])
        super().set_state(state)
