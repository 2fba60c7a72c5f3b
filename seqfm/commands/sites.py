"""Call binding sites from a trained model's feature maps, with calibrated q-values.

Candidates are the local maxima (non-maximum suppression over the filter width) of every
first-layer filter's activation (maximum over both strands; the strand of a call is the strand
that gave it, flipped when --filters-tsv says the filter's JASPAR match lies on its reverse strand)
and of the class-activation map (CAM), on the positive sequences of the test split by default. Each candidate gets an empirical p-value against the same detector's peaks on
dinucleotide-shuffled copies of the same sequences (tracks permuted over positions):
p = (1 + #null >= x) / (1 + n_null), and a Benjamini-Hochberg q-value (filters and CAM are two
families); calls pass at --q.

Writes OUT/sites.bed (BED6+, header line
'#chrom start end name score strand detector cluster activation p q match_name';
name = <cluster or detector>:<sequence>; score = int(1000 * min(1, -log10(q) / 10))),
OUT/sites.gff3 (GFF3, 1-based) and OUT/interpret/featuremaps.npz (maps, calls and planted sites
of the top-scoring test positives, for the report). Genome coordinates where meta.tsv has them
(minus-strand sequences count from their end and flip strands), sequence coordinates otherwise.
"""

HELP = "trained model -> binding-site calls (sites.bed, sites.gff3) with empirical q-values"
ORDER = 60


def add_arguments(p) -> None:
    import argparse

    from ._common import add_deprecated, add_threads, quantiles

    bool_opt = argparse.BooleanOptionalAction
    p.add_argument("--model", required=True, metavar="MODEL_PT", help="model.pt (state_dict)")
    p.add_argument("--model-json", required=True, metavar="MODEL_JSON", help="model.json")
    p.add_argument("--dataset", required=True, metavar="DATASET_DIR",
                   help="dataset folder written by `seqfm encode`")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder (results/{sample}): sites.bed, sites.gff3, interpret/featuremaps.npz")
    p.add_argument("--filters-tsv", metavar="TSV", default=None,
                   help="interpret/filters.tsv of `seqfm motifs`: clusters, JASPAR matches and influence "
                        "of each filter label the calls (optional; without it these columns are '.')")
    add_deprecated(p, "--motifs", "--filters-tsv", dest="filters_tsv", metavar="TSV")
    p.add_argument("--truth", metavar="BED", default=None,
                   help="planted sites (BED6, genome coordinates): drawn in featuremaps.npz and scored "
                        "in the log")

    c = p.add_argument_group("calls")
    c.add_argument("--split", choices=["test", "valid", "train", "all"], default="test",
                   help="sequences to call sites on")
    c.add_argument("--labels", choices=["positive", "negative", "all"], default="positive",
                   help="which labels among them")
    c.add_argument("--q", type=float, default=0.05, help="Benjamini-Hochberg q-value threshold")
    c.add_argument("--strata", type=quantiles, default="0.5,0.9,0.97,0.99",
                   help="conservation strata: edges at these quantiles of the track's window means (comma-separated; '' for none); calls are tested within each stratum")
    c.add_argument("--null-copies", type=int, default=10,
                   help="dinucleotide-shuffled copies of each sequence in the empirical null")
    c.add_argument("--null-max-seqs", type=int, default=2000,
                   help="shuffle at most this many sequences (a seeded subset) per copy")
    c.add_argument("--seed", type=int, default=1, help="seed of the shuffles")
    c.add_argument("--nms-width", type=int, default=None,
                   help="non-maximum-suppression window (default: the filter width)")
    c.add_argument("--core-fraction", type=float, default=0.3,
                   help="a filter column is part of its motif core when its weight spread is at "
                        "least this fraction of the filter's largest")
    c.add_argument("--cam", action=bool_opt, default=True, help="also call class-activation-map peaks")
    c.add_argument("--merge-calls", choices=["cluster", "all", "none"], default="all",
                   help="keep the best of overlapping calls of one motif cluster (cluster), of all "
                        "filters (all) or keep all calls (none)")
    add_deprecated(c, "--merge", "--merge-calls", dest="merge_calls", choices=["cluster", "all", "none"])
    c.add_argument("--top-n", type=int, default=8, help="sequences in featuremaps.npz")

    r = p.add_argument_group("hardware")
    r.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    add_threads(r)
    r.add_argument("--batch-size", type=int, default=256, help="sequences per batch on the device")
    r.add_argument("--progress", action=bool_opt, default=None,
                   help="progress bars (default: when stderr is a terminal)")


def run(args) -> None:
    from .. import sites
    from ._common import threads

    config = sites.SitesConfig(
        split=args.split, labels=args.labels, q=args.q, null_copies=args.null_copies, strata=args.strata,
        null_max_seqs=args.null_max_seqs, seed=args.seed, nms_width=args.nms_width,
        core_fraction=args.core_fraction, cam=args.cam, merge=args.merge_calls,
        batch_size=args.batch_size, device=args.device, top_n=args.top_n)
    sites.run(args.model, args.model_json, args.dataset, args.out, filters_tsv=args.filters_tsv,
              truth_bed=args.truth, config=config, threads=threads(args), progress=args.progress)
