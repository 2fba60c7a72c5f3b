"""Train a 1D CNN motif detector on an encoded dataset and evaluate it.

Writes OUT/model.pt (state_dict), OUT/model.json (architecture, alphabet, channels, training
options), OUT/metrics.json (test and validation AUROC/AUPRC of the CNN and of a k-mer
logistic-regression baseline trained on the same split) and, under OUT/train/, epochs.csv,
roc.png, pr.png, curves.png and the epoch checkpoint last.pt (+ last.json). Run again with the
same options after an interruption and training resumes from the last completed epoch.
The workflow passes config.yaml's `train:` settings as these options.
"""

HELP = "encoded dataset -> trained CNN (model.pt, model.json) + metrics and curves"
ORDER = 40


def _auto_float(text: str):
    return None if text.lower() in ("auto", "none", "") else float(text)


def _auto_int(text: str):
    return None if text.lower() in ("auto", "none", "") else int(text)


def add_arguments(p) -> None:
    import argparse

    from ._common import add_threads

    bool_opt = argparse.BooleanOptionalAction
    p.add_argument("--dataset", metavar="DATASET_DIR", help="dataset folder written by `seqfm encode` (required)")
    p.add_argument("dataset_dir", nargs="?", help=argparse.SUPPRESS)  # deprecated spelling: positional
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder (results/{sample}); checkpoints go to DIR/train")

    m = p.add_argument_group("model")
    m.add_argument("--filters", type=int, default=64, help="first-layer filters (motif detectors)")
    m.add_argument("--filter-width", type=int, default=19, help="width of a first-layer filter")
    m.add_argument("--strand-aware", action=bool_opt, default=None,
                   help="DNA: each filter also scans the reverse strand with shared weights, so the "
                        "output is reverse-complement invariant (default: on for DNA, off for protein)")
    m.add_argument("--dilated-layers", type=int, default=0,
                   help="residual dilated convolutions after the first layer (dilation 2, 4, 8, ...)")
    m.add_argument("--dilated-channels", type=int, default=64, help="channels of the dilated layers")
    m.add_argument("--dilated-width", type=int, default=3, help="kernel width of the dilated layers (odd)")
    m.add_argument("--dropout", type=float, default=0.1, help="dropout after the first layer")
    m.add_argument("--global-pool", choices=["max", "mean"], default="max",
                   help="global pooling over positions before the linear head")
    m.add_argument("--first-layer", choices=["gated", "concat"], default="gated",
                   help="with conservation tracks: 'gated' filters read the letters and the tracks "
                        "only scale their response (a filter cannot fire on conservation alone); "
                        "'concat' reads letters and tracks as channels of one convolution")

    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=30, help="maximum number of epochs")
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=5e-3, help="peak learning rate (AdamW)")
    t.add_argument("--weight-decay", type=float, default=1e-2, help="AdamW weight decay")
    t.add_argument("--warmup-epochs", type=float, default=1.0,
                   help="linear warm-up from lr/10, then cosine decay to lr/100 at --epochs")
    t.add_argument("--patience", type=int, default=5,
                   help="stop after this many epochs without a better validation AUPRC")
    t.add_argument("--min-delta", type=float, default=0.0, help="smallest AUPRC gain that counts")
    t.add_argument("--pos-weight", type=_auto_float, default=None, metavar="W|auto",
                   help="loss weight of positives (auto: negatives/positives of the training split)")
    t.add_argument("--grad-clip", type=float, default=1.0, help="gradient-norm clip (0 = off)")
    t.add_argument("--valid-fraction", type=float, default=0.1,
                   help="share of training rows held out when the dataset has no 'valid' rows")
    t.add_argument("--seed", type=int, default=1, help="seed of initialisation, shuffling and dropout")
    t.add_argument("--resume", action=bool_opt, default=True,
                   help="continue from DIR/train/last.pt when it was written with the same options")

    r = p.add_argument_group("hardware")
    r.add_argument("--device", default="auto",
                   help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps; an absent "
                        "device falls back to CPU with a warning")
    add_threads(r)
    r.add_argument("--amp", action=bool_opt, default=True,
                   help="mixed precision on CUDA (bfloat16 where supported, else float16)")
    r.add_argument("--resident-max-mb", type=float, default=2048.0,
                   help="keep the dataset on the device when it is at most this large (MiB); "
                        "larger ones stream through pinned memory from a background thread")

    o = p.add_argument_group("outputs")
    o.add_argument("--baseline-k", type=_auto_int, default=None, metavar="K|auto",
                   help="k of the k-mer logistic-regression baseline (auto: 5 DNA, 2 protein; 0 = none)")
    o.add_argument("--sequence-control", action=bool_opt, default=True,
                   help="with tracks, also train the same model without them on the same split "
                        "(metrics.json's sequence_only: what conservation adds)")
    o.add_argument("--plots", action=bool_opt, default=True, help="write roc.png, pr.png, curves.png")
    o.add_argument("--progress", action=bool_opt, default=None,
                   help="progress bar (default: when stderr is a terminal)")


def run(args) -> None:
    from .. import train
    from ._common import dataset_option, threads

    dataset = dataset_option(args, "dataset", "dataset_dir", "--dataset")
    config = train.TrainConfig(
        batch_size=args.batch_size, max_epochs=args.epochs, lr=args.lr,
        weight_decay=args.weight_decay, warmup_epochs=args.warmup_epochs, patience=args.patience,
        min_delta=args.min_delta, pos_weight=args.pos_weight, grad_clip=args.grad_clip,
        seed=args.seed, device=args.device, threads=threads(args), amp=args.amp,
        valid_fraction=args.valid_fraction, baseline_k=args.baseline_k,
        resident_max_mb=args.resident_max_mb, sequence_control=args.sequence_control)
    arch = {"n_filters": args.filters, "filter_width": args.filter_width,
            "strand_aware": args.strand_aware, "dilated_layers": args.dilated_layers,
            "dilated_channels": args.dilated_channels, "dilated_width": args.dilated_width,
            "dropout": args.dropout, "global_pool": args.global_pool,
            "first_layer": args.first_layer}
    train.run(dataset, args.out, config, arch, progress=args.progress, resume=args.resume,
              plots=args.plots)
