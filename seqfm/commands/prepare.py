"""Read positives and negatives, make fixed-length sequences, labels, coordinates and a split.

Positives: FASTA (headers like chr1:100-300 are read as coordinates) or BED/narrowPeak
with --genome. Negatives: FASTA, BED, 'shuffle' (dinucleotide shuffle of the positives)
or 'background' (GC-matched genomic windows that overlap no positive). Writes a
tab-separated table: name chrom start end strand label split source sequence.
"""

HELP = "positives + negatives -> fixed-length sequences, labels and a train/valid/test split"
ORDER = 20


def add_arguments(p) -> None:
    p.add_argument("--positives", required=True, help="FASTA, or BED/narrowPeak (needs --genome)")
    p.add_argument("--negatives", required=True, help="FASTA, BED, 'shuffle' or 'background'")
    p.add_argument("--genome", help="genome FASTA (indexed with pyfaidx on first use)")
    p.add_argument("--alphabet", default="dna", choices=["dna", "protein"])
    p.add_argument("--length", type=int, default=200, help="fixed sequence length")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--test-chroms", default="", help="comma-separated chromosomes held out for test "
                   "(default: chosen so that --test-fraction of sequences are held out)")
    p.add_argument("--valid-chroms", default="", help="comma-separated chromosomes for validation")
    p.add_argument("--test-fraction", type=float, default=0.1)
    p.add_argument("--valid-fraction", type=float, default=0.1)
    p.add_argument("--negatives-per-positive", type=int, default=1,
                   help="for 'shuffle' and 'background' negatives")
    p.add_argument("--shuffle-order", type=int, default=0, choices=[0, 1, 2],
                   help="'shuffle' negatives keep letter pairs (2: dinucleotides/dipeptides) or the "
                        "letter composition (1); 0: 2 for DNA, 1 for protein")
    p.add_argument("--conservation", default="",
                   help="comma-separated bigWig/bedGraph tracks: 'background' negatives are "
                        "matched on them (window means) as well as on GC")
    p.add_argument("--out", required=True, help="output table (TSV)")


def run(args) -> None:
    from ..errors import InputError
    from ..prepare import PrepareConfig, prepare, write

    if args.length < 8:
        raise InputError(f"--length {args.length} is too short (need at least 8)")
    split = lambda s: [c for c in s.split(",") if c]  # noqa: E731
    cfg = PrepareConfig(alphabet=args.alphabet, length=args.length, seed=args.seed,
                        test_chroms=split(args.test_chroms), valid_chroms=split(args.valid_chroms),
                        test_fraction=args.test_fraction, valid_fraction=args.valid_fraction,
                        negatives_per_positive=args.negatives_per_positive,
                        shuffle_order=args.shuffle_order,
                        conservation=split(args.conservation))
    write(prepare(args.positives, args.negatives, args.genome, cfg), args.out)
