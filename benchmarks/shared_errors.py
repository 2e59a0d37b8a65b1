"""The digits of the default test split that every given reader misreads: how many each reader misreads, how
many all of them do, and the exact-sum accuracy a reader would reach that misread only those (about the most
that averaging such readers can reach). The cached models of default runs (train them first with `python
run_bench.py --approaches ... --seeds ...`).

    python benchmarks/shared_errors.py slot_cnn_digit_sup slot_cnn_sum_only --seeds 0,1,2 --png shared.png

--png writes the crops of the shared misreadings, each headed "true digit: what each reader read".
"""
import argparse


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("approaches", nargs="+")
    p.add_argument("--seeds", default="0", help="training seeds of each approach, e.g. 0,1,2")
    p.add_argument("--png", help="write the shared misreadings' crops to this PNG file")
    args = p.parse_args()
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds {args.seeds!r}: whole numbers separated by commas, e.g. 0,1,2")

    import cv2
    import numpy as np

    from bench.blocks.segmentation import slot_crops
    from bench.data import data_spec, load_dataset
    from bench.predict import PredictError, load_trained

    dataset = load_dataset(data_spec())
    images, truth = np.asarray(dataset.test.images), dataset.test.digit_lists()
    reads, misread = {}, {}
    for name in args.approaches:
        for seed in seeds:
            try:
                approach = load_trained(name, dataset, None, False, "cpu", warn=print, seed=seed)
            except PredictError as e:
                print(e)
                continue
            if not approach.reads_digits():
                print(f"{name} reads no digits, only sums: left out")
                break
            read = approach.predict_digits_batch(images)
            wrong = {(i, k) for i, (r, t) in enumerate(zip(read, truth))     # as metrics.digit_accuracy counts
                     for k in range(len(t)) if k >= len(r) or r[k] != t[k]}
            reads[name, seed], misread[name, seed] = read, wrong
            print(f"{name} seed {seed}: {len(wrong)} of {sum(map(len, truth))} digits misread, in "
                  f"{len({i for i, _ in wrong})} of {len(truth)} images")
    if not misread:
        return
    shared = sorted(set.intersection(*misread.values()))
    images_hit = len({i for i, _ in shared})
    print(f"misread by all {len(misread)}: {len(shared)} digits in {images_hit} images; a reader that misread only "
          f"those would read {100 * (1 - images_hit / len(truth)):.2f}% of the sums")
    if args.png and shared:
        picked = [i for i, _ in shared]
        crops = slot_crops(images[picked], dataset.digits)
        tiles = []
        for j, (i, k) in enumerate(shared):
            tile = cv2.copyMakeBorder(cv2.resize(crops[j, k], (84, 84), interpolation=cv2.INTER_NEAREST),
                                      14, 0, 0, 4, cv2.BORDER_CONSTANT, value=40)
            label = f"{truth[i][k]}:" + "".join(str(r[i][k]) if k < len(r[i]) else "?"
                                                for r in reads.values())
            cv2.putText(tile, label, (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 255, 1)
            tiles.append(tile)
        tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % 10)
        cv2.imwrite(args.png, np.vstack([np.hstack(tiles[r:r + 10]) for r in range(0, len(tiles), 10)]))
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
