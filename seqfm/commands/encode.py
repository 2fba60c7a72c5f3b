"""Encode a prepared table into a dataset folder: uint8 codes (N, L), float16
conservation tracks (N, T, L), labels and metadata, all memory-mappable."""

HELP = "prepared sequences + conservation tracks -> encoded dataset folder"
ORDER = 30


def add_arguments(p) -> None:
    import argparse

    p.add_argument("--prepared", metavar="TSV", help="table written by `seqfm prepare` (required)")
    p.add_argument("prepared_tsv", nargs="?", help=argparse.SUPPRESS)  # deprecated spelling: positional
    p.add_argument("--alphabet", default="dna", choices=["dna", "protein"])
    p.add_argument("--policy", default="uniform", choices=["uniform", "zeros", "strict"],
                   help="ambiguity letters (N, IUPAC; X, B, Z...): spread uniformly over the "
                        "letters they stand for, all-zero columns, or refused")
    p.add_argument("--conservation", default="",
                   help="DNA: comma-separated bigWig/bedGraph paths, one track each; protein: a folder "
                        "of per-protein MSAs ({name}.a3m/.sto/.fa, query first) or a score table "
                        "(TSV: protein, position (1-based), score)")
    p.add_argument("--fill", type=float, default=0.0, help="track value where a track has no data")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True, help="dataset folder to write")


def run(args) -> None:
    import logging

    from .. import dataset, prepare
    from ._common import dataset_option

    args.prepared = dataset_option(args, "prepared", "prepared_tsv", "--prepared")
    table = prepare.read(args.prepared)
    tracks = [t for t in args.conservation.split(",") if t]
    data = dataset.encode(table, args.alphabet, args.policy, tracks, seed=args.seed, fill=args.fill,
                          source=args.prepared)
    dataset.write(data, args.out)
    logging.getLogger("seqfm.encode").info("encoded %d sequences x %d bp, %d track(s) -> %s",
                                           len(data), data.codes.shape[1], data.tracks.shape[1], args.out)
