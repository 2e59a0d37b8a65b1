"""Sums of digits: the exact distribution of a sum of independent digits, and the output head of a
whole-image model that reads the sum directly."""
import torch
from torch import nn
from torch.nn import functional as F


def sum_distribution(logits: torch.Tensor, filled: torch.Tensor) -> torch.Tensor:
    """Exact distribution of the sum of independent slot digits: (B, slots, 10) logits and a (B, slots)
    mask of filled slots -> (B, 9*slots+1) probabilities. Empty slots count as the digit 0."""
    b, k, _ = logits.shape
    probs = F.softmax(logits.float(), dim=-1)
    zero = torch.zeros_like(probs)
    zero[..., 0] = 1.0
    probs = torch.where(filled[..., None], probs, zero)
    total = probs[:, 0]
    for slot in range(1, k):          # convolve in one slot at a time: a grouped conv1d, one group per image
        total = F.conv1d(total[None], probs[:, slot, None].flip(-1), padding=9, groups=b)[0]
    return total


class SumHead:
    """Mixin for a whole-image model that outputs the sum: as the original report did (head="regression":
    one output, MSE on sum / max_sum) or as a classifier over every possible sum (head="classification":
    max_sum + 1 logits, cross-entropy). The subclass sets self.head and self.max_sum before building;
    max_sum is kept in the checkpoint."""
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
