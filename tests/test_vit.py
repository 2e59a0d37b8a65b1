"""The ViT's pre-training paths and its digit-token model: a local timm weights file is loaded and adapted
to the grayscale input (nothing downloaded); without one, the digit pre-training's weights carry over to
the sum model; each digit's reader stays local and empty slots add nothing."""
import torch

from bench.approach import Budget
from bench.discovery import discover

REGISTRY, _ = discover()


def test_local_timm_weights_are_loaded_and_adapted_to_the_input(tmp_path, monkeypatch):
    import timm

    from bench.blocks.vit import timm_pretrained
    source = timm.create_model("vit_tiny_patch16_224", pretrained=False)   # RGB, patch 16, 14x14 grid, 1000 classes
    path = tmp_path / "vit_tiny.pth"
    torch.save(source.state_dict(), path)
    model = timm_pretrained("vit_tiny_patch16_224", str(path), num_outputs=1, img_size=(40, 168), patch=8)
    assert torch.equal(model.blocks[5].attn.qkv.weight, source.blocks[5].attn.qkv.weight)   # loaded as they are
    assert model.patch_embed.proj.weight.shape == (192, 1, 8, 8)        # one channel, 8x8 patches
    assert model.pos_embed.shape[1] == 1 + 5 * 21                       # class token + the 5x21 grid
    assert model.head.out_features == 1
    assert model(torch.zeros(2, 1, 40, 168)).shape == (2, 1)

    monkeypatch.setenv("DIGITSUM_VIT_WEIGHTS", str(path))                # vit_finetune: a digit's 28x28 crop
    approach = REGISTRY["vit_finetune"].create()         # reads DIGITSUM_VIT_WEIGHTS when constructed
    model = approach.initial_model(Budget(epochs=1))
    assert approach.notes["init"] == f"timm vit_tiny_patch16_224 weights from {path}"
    assert torch.equal(model.vit.blocks[5].attn.qkv.weight, source.blocks[5].attn.qkv.weight)
    assert model.vit.patch_embed.proj.weight.shape == (192, 1, 7, 7)    # 7x7 patches of a 28x28 crop
    assert model.vit.pos_embed.shape[1] == 1 + 4 * 4
    assert model(torch.rand(2, 4, 28, 28)).shape == (2,)


def test_digit_pretraining_carries_over_to_the_sum_model(tiny_dataset):
    approach = REGISTRY["vit_patches"].create()          # grid resampled 4x4 -> 5x21
    approach.max_sum = 36
    model = approach.initial_model(Budget(epochs=2, quick=True))
    assert "pre-trained here on single MNIST-train digits" in approach.notes["init"]
    assert max(h["val_accuracy"] for h in approach.pretrain_history) > 0.3    # it learned digits (chance: 0.1)
    assert model.pos_embed.shape[1] == 5 * 21
    assert torch.equal(model.blocks[0].attn.qkv.weight, approach.pretrain_encoder.blocks[0].attn.qkv.weight)

    for name, output_shape in (("vit_finetune", (3,)), ("vit_finetune_cls", (3, 37))):
        approach = REGISTRY[name].create()               # the very digit classifier
        model = approach.initial_model(Budget(epochs=2, quick=True))
        assert max(h["val_accuracy"] for h in approach.pretrain_history) > 0.3
        assert model.vit is approach.pretrain_encoder.vit
        assert model(torch.rand(3, 4, 28, 28)).shape == output_shape


def test_each_digit_is_read_alone_and_empty_slots_add_nothing():
    from approaches.vit_digits import DigitTokenViT
    from bench.blocks.vit import small_vit
    torch.manual_seed(0)
    vit = small_vit((28, 28), 10, patch=7).eval()
    crops = torch.rand(2, 4, 28, 28)
    logits = DigitTokenViT(vit, "digits")(crops)
    other = crops.clone()
    other[:, 3] = torch.rand(2, 28, 28)                  # another last digit: the others' logits stay
    changed = DigitTokenViT(vit, "digits")(other)
    assert torch.allclose(changed[:, :3], logits[:, :3], atol=1e-5)
    assert not torch.allclose(changed[:, 3], logits[:, 3], atol=1e-3)

    emptied = crops.clone()
    emptied[:, 3] = 0                                    # segmentation found three digits
    expected = DigitTokenViT(vit, "expected_sum")
    values = logits.softmax(-1) @ torch.arange(10.0)
    assert torch.allclose(expected(emptied), values[:, :3].sum(1), atol=1e-4)
    distribution = DigitTokenViT(vit, "sum_distribution")(emptied).exp()
    assert distribution.shape == (2, 37) and torch.allclose(distribution.sum(1), torch.ones(2), atol=1e-4)
    assert distribution[:, 28:].max() < 1e-6             # three digits sum to at most 27
    assert torch.allclose(distribution @ torch.arange(37.0), values[:, :3].sum(1), atol=1e-3)
