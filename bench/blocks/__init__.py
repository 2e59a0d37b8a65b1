"""Building blocks that approaches share (never approaches themselves: discovery does not look here).

- segmentation: cut an image into one MNIST-style 28x28 crop per digit (`crops_of`, `slot_crops`), and the
                cuts a reader should learn from where each digit's box is known (`cut_at_boxes`).
- layouts:      a composed image's digits laid out again, pushed together (`pushed_together`).
- sums:         the exact distribution of a sum of digits (`sum_distribution`), of the sum a CTC reader's
                frames spell (`ctc_sum_log_distribution`), and the sum heads of whole-image models
                (`SumHead`: regression as the original report, or a class per sum).
- augment:      random rotation, scale and shift of digit crops (`random_affine`), and a fixed low-pass
                filter a reader sees its images through (`soften`).
- vit:          a small timm ViT for grayscale input (`small_vit`), local timm weights (`timm_pretrained`),
                and pre-training a ViT digit reader on single MNIST-train digits (`pretrain_digit_reader`).

An approach that reads digits implements `predict_digits_batch` only: the contract (bench.approach) makes
its sum the sum of the digits read.
"""
