"""Where digit readers lose: a folder's images (original format) grouped by the way
bench.blocks.segmentation cuts them, each group's exact-sum accuracy for trained approaches (the cached
models of a default run, or with `--layout hard` of a hard one: train them first with `python run_bench.py
--approaches ...`), and how often each reader found as many digits as the image holds.

    python benchmarks/where_readers_lose.py slot_cnn_digit_sup classic_cv yolo_digits --images data/test-other
    python benchmarks/where_readers_lose.py slot_cnn_digit_sup --images data/test-other-hard --layout hard

The groups: "columns" (the runs of inked columns are the digits), "pieces = digits" (as many pieces of
ink as digits), "fewer pieces: cut" (touching digits, split by the reader or at the least ink), "more
pieces: merged" (broken digits or specks).
"""
import argparse


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("approaches", nargs="+")
    p.add_argument("--images", required=True, help="a folder in the original format, four digits per image")
    p.add_argument("--layout", choices=["plain", "hard"], default="plain",
                   help="the layout the models trained on (the cached models of `run_bench.py --layout ...`)")
    args = p.parse_args()

    import numpy as np

    from bench.blocks.segmentation import INK, _ink_pieces, ink_runs, settled
    from bench.data import DataError, data_spec, load_dataset, load_folder
    from bench.predict import PredictError, load_trained

    try:
        folder = load_folder(args.images)
    except DataError as e:
        p.error(str(e))
    images, sums = np.asarray(folder.images), np.asarray(folder.sums)
    groups = []
    for image in images:
        ink = image >= INK
        pieces = len(_ink_pieces(ink))
        groups.append("columns" if settled(ink_runs(ink), (4, 4), ink=ink) else "pieces = digits" if pieces == 4
                      else "fewer pieces: cut" if pieces < 4 else "more pieces: merged")
    groups = np.array(groups)

    def share(right, picked):
        return 100 * right[picked].mean() if picked.any() else 0.0

    dataset = load_dataset(data_spec(layout=args.layout))
    print(f"{args.images}: {len(images)} images; exact-sum accuracy % by group (images)")
    for name in args.approaches:
        try:
            approach = load_trained(name, dataset, None, False, "cpu", warn=print)
        except PredictError as e:
            print(e)
            continue
        right = np.rint(np.asarray(approach.predict_batch(images), float)) == sums
        parts = [f"{g} {share(right, groups == g):.1f} ({(groups == g).sum()})"
                 for g in ("columns", "pieces = digits", "fewer pieces: cut", "more pieces: merged")
                 if (groups == g).any()]
        found = np.array([len(digits) == 4 for digits in approach.predict_digits_batch(images)])
        parts.append(f"found 4 digits in {100 * found.mean():.1f}% of the images, {share(right, found):.1f}% of "
                     f"those right, {share(right, ~found):.1f}% of the others")
        print(f"{name}: all {100 * right.mean():.2f}; " + "; ".join(parts))


if __name__ == "__main__":
    main()
