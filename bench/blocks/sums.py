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
    b = log_probs.shape[0]
    sums = 9 * most + 1
    states = (most + 1) * sums                                     # (digits spelt, their sum), flattened
    probs = log_probs.float().exp()
    count, total, digit = torch.arange(most + 1)[:, None], torch.arange(sums)[None], torch.arange(10)[:, None, None]
    source = torch.where((count >= 1) & (total >= digit), (count - 1) * sums + total - digit, states)
    source = source.reshape(1, 10, states).expand(b, 10, states).to(probs.device)   # `states` points at a zero
    state = probs.new_zeros(b, 11, states)      # [:, 0] after a blank (or at the start), [:, 1 + d] after the digit d
    state[:, 0, 0] = 1.0
    zero = probs.new_zeros(b, 10, 1)
    scales = []
    for frame in probs.unsqueeze(-1).unbind(1):                 # (B, 11, 1): this frame's probabilities
        either = state.sum(1, keepdim=True) * frame             # whatever came before, then this frame's symbol
        held = state[:, 1:] * frame[:, 1:]                       # the previous frame's digit held on: no new digit
        new_digit = torch.cat([either[:, 1:] - held, zero], 2).gather(2, source)
        state = torch.cat([either[:, :1], held + new_digit], 1)
        scale = state.sum((1, 2))
        state = state / scale[:, None, None]
        scales.append(scale)
    spelt = state.sum(1).reshape(b, most + 1, sums)[:, fewest:].sum(1)
    return spelt.clamp_min(1e-30).log() + torch.stack(scales, 1).log().sum(1, keepdim=True)


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
