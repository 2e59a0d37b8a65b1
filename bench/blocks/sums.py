"""Sums of digits: the exact distribution of a sum of independent digits, the distribution of the sum a
CTC reader's outputs spell, and the output head of a whole-image model that reads the sum directly."""
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


def ctc_sum_log_distribution(log_probs: torch.Tensor, digit_range: tuple[int, int]) -> torch.Tensor:
    """(B, frames, 11) per-frame log-probabilities of a CTC reader (index 0 the blank, 1 + d the digit d)
    -> (B, 9*most+1) log P(sum): summed over every alignment that spells between `fewest` and `most`
    digits, by CTC's rule (a digit held over several frames is one digit; a blank separates two equal
    digits). Exact and differentiable: a forward pass over frames whose state is the digits spelt so far,
    their sum, and the symbol of the previous frame; rescaled every frame so that nothing underflows."""
    fewest, most = digit_range
    b, frames, _ = log_probs.shape
    sums = 9 * most + 1
    states = (most + 1) * sums                                     # (digits spelt, their sum), flattened
    probs = log_probs.float().exp()
    count, total, digit = torch.arange(most + 1)[:, None], torch.arange(sums)[None], torch.arange(10)[:, None, None]
    source = torch.where((count >= 1) & (total >= digit), (count - 1) * sums + total - digit, states)
    source = source.reshape(1, 10, states).expand(b, 10, states).to(probs.device)   # `states` points at a zero
    after_blank = probs.new_zeros(b, states)                       # the previous frame was a blank (or none)
    after_blank[:, 0] = 1.0
    after_digit = probs.new_zeros(b, 10, states)                   # the previous frame was the digit d
    zero = probs.new_zeros(b, 10, 1)
    log_scale = probs.new_zeros(b)
    for t in range(frames):
        blank, digits = probs[:, t, :1], probs[:, t, 1:, None]
        either = after_blank + after_digit.sum(1)
        new_digit = torch.cat([(either[:, None] - after_digit) * digits, zero], 2).gather(2, source)
        after_blank, after_digit = either * blank, after_digit * digits + new_digit
        scale = after_blank.sum(1) + after_digit.sum((1, 2))
        after_blank, after_digit = after_blank / scale[:, None], after_digit / scale[:, None, None]
        log_scale = log_scale + scale.log()
    spelt = (after_blank + after_digit.sum(1)).reshape(b, most + 1, sums)[:, fewest:].sum(1)
    return spelt.clamp_min(1e-30).log() + log_scale[:, None]


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
