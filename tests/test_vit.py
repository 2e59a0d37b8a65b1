"""The ViT's pre-training paths: a local timm weights file is loaded and adapted to the 40x168 grayscale
input (nothing downloaded); without one, the digit pre-training's weights carry over to the sum model."""
import torch

from bench.approach import Budget


def test_local_timm_weights_are_loaded_and_adapted_to_the_input(tmp_path):
    import timm
    from approaches.vit import timm_pretrained
    source = timm.create_model("vit_tiny_patch16_224", pretrained=False)   # RGB, patch 16, 14x14 grid, 1000 classes
    path = tmp_path / "vit_tiny.pth"
    torch.save(source.state_dict(), path)
    model = timm_pretrained("vit_tiny_patch16_224", str(path), num_outputs=1)
    assert torch.equal(model.blocks[5].attn.qkv.weight, source.blocks[5].attn.qkv.weight)   # loaded as they are
    assert model.patch_embed.proj.weight.shape == (192, 1, 8, 8)        # one channel, 8x8 patches
    assert model.pos_embed.shape[1] == 1 + 5 * 21                       # class token + the 5x21 grid
    assert model.head.out_features == 1
    assert model(torch.zeros(2, 1, 40, 168)).shape == (2, 1)


def test_digit_pretraining_carries_over_to_the_sum_model(tiny_dataset):
    from approaches.vit import ViTSum
    approach = ViTSum()
    approach.notes, approach.digit_range, approach.max_sum = {}, (4, 4), 36
    model = approach.pretrained_model(Budget(20, quick=True))
    assert "pre-trained here on single MNIST-train digits" in approach.notes["init"]
    assert max(h["val_accuracy"] for h in approach.pretrain_history) > 0.3    # it learned digits (chance: 0.1)
    assert model.pos_embed.shape[1] == 5 * 21
    digits = approach.pretrain_encoder.blocks[0].attn.qkv.weight
    assert torch.equal(model.blocks[0].attn.qkv.weight, digits)


def test_each_digit_centre_is_shared_between_the_tokens_around_it():
    import numpy as np

    from approaches.vit import small_vit
    from bench.data import Split
    from benchmarks.vit_counting import token_geometry, token_targets
    for stem in ("patch", "window"):
        (height, width), (row_step, col_step) = token_geometry(stem)
        grid = small_vit((40, 168), 10, stem=stem).patch_embed.grid_size
        # a digit 7 whose box centre is exactly token (1, 2)'s centre, and a 3 halfway between (1, 5) and (1, 6)
        x7, y7 = 2 * col_step + (width - 1) / 2 - 4.5, row_step + (height - 1) / 2 - 4.5
        x3 = 5.5 * col_step + (width - 1) / 2 - 4.5
        boxes = np.array([[[x7, y7, 10, 10], [x3, y7, 10, 10]]])
        targets = token_targets(Split(np.zeros((1, 40, 168)), np.array([10]), np.array([[7, 3]]), boxes), grid,
                                (height, width), (row_step, col_step)).reshape(*grid, 10)
        assert targets[1, 2, 7] == 1 and targets[..., 7].sum() == 1, stem
        assert targets[1, 5, 3] == targets[1, 6, 3] == 0.5 and targets[..., 3].sum() == 1, stem
