"""Scan a genome (or a FASTA of long sequences) with a trained model: binding-site calls and
bigWig tracks, in tiles, both strands, in memory that does not grow with chromosome length.

  seqfm scan --model M.pt --model-json M.json --genome G.fa [--chrom chr1 | --chroms-file F]
             [--null N.npz] --out DIR
      scan one shard (the chromosomes given, default all) and write DIR/candidates.npz,
      DIR/sites.bed, DIR/sites.gff3 (q-values of this shard), DIR/cam.bw (+ DIR/filter_K.bw
      for --tracks) and DIR/scan.json; without --null the null is built in process.

Its neighbours: `seqfm scan-null` builds the null once per genome, `seqfm scan-plan` cuts a
genome into shards, `seqfm scan-merge` gathers shards into genome-wide calls and tracks.

Calls: peaks of every filter (strand maximum) and of the class-activation map after
non-maximum suppression over the filter width, with p-values from the empirical null
(exponential tail beyond its top quantile) and BH q-values; BED6+ with the header
`#chrom start end name score strand detector cluster activation p q match_name` and GFF3.
Regions of N are skipped. The workflow passes config.yaml's `scan:` settings as these options.
"""

HELP = "trained model + genome FASTA -> genome-wide site calls (BED/GFF3) and bigWig tracks"
ORDER = 70


def _auto_int(text: str):
    return None if text.lower() in ("auto", "none", "") else int(text)


def add_model_options(p) -> None:
    """The model, the genome and its tracks (``seqfm scan`` and ``seqfm scan-null``)."""
    p.add_argument("--model", required=True, metavar="MODEL_PT", help="model.pt (state_dict)")
    p.add_argument("--model-json", required=True, metavar="MODEL_JSON", help="model.json (architecture)")
    p.add_argument("--conservation", default="", metavar="TRACKS",
                   help="comma-separated bigWig/bedGraph tracks, as the model was trained with")
    p.add_argument("--fill", type=float, default=0.0, help="track value where a track has no data")


def add_scanning_options(s) -> None:
    """How the model runs over the genome and what counts as a peak (the null is scanned the
    same way as the genome)."""
    import argparse

    s.add_argument("--tile", type=int, default=20_000, help="bases owned by one tile")
    s.add_argument("--batch-size", type=int, default=4, help="tiles per batch on the device")
    s.add_argument("--nms-width", type=_auto_int, default=None, metavar="N|auto",
                   help="non-maximum-suppression window (auto: the filter width)")
    s.add_argument("--core-fraction", type=float, default=0.3,
                   help="filter columns whose weight spread is at least this share of the "
                        "largest form the motif core reported as a filter call")
    s.add_argument("--cam", action=argparse.BooleanOptionalAction, default=True,
                   help="call CAM peaks too")


def add_null_options(s) -> None:
    """The null's windows, strata and tail."""
    from ._common import quantiles

    s.add_argument("--strata", type=quantiles, default="0.5,0.9,0.97,0.99",
                   help="conservation strata: edges at these quantiles of the track's window means (comma-separated; '' for none); calls are tested within each stratum")
    s.add_argument("--null-bases", type=int, default=10_000_000,
                   help="bases of dinucleotide-shuffled genome windows in the null")
    s.add_argument("--null-window", type=int, default=10_000, help="length of one null window")
    s.add_argument("--tail-fraction", type=float, default=0.01,
                   help="share of each detector's null peaks fitted by the exponential tail")
    s.add_argument("--seed", type=int, default=1, help="seed of the null windows and shuffles")


def add_hardware_options(r) -> None:
    import argparse

    from ._common import add_threads

    r.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    add_threads(r, "torch, and tiles side by side in the fused kernel")
    r.add_argument("--engine", choices=["auto", "fused", "torch"], default="auto",
                   help="auto: a fused CPU kernel for strand-aware models without dilated layers "
                        "on the CPU, PyTorch otherwise (GPU, dilated layers, protein)")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")


def add_arguments(p) -> None:
    add_model_options(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--genome", metavar="FASTA", help="genome FASTA (indexed with pyfaidx)")
    src.add_argument("--fasta", metavar="FASTA",
                     help="a FASTA of long sequences (each record scanned like a chromosome)")
    p.add_argument("--chrom", default="", metavar="NAMES",
                   help="comma-separated chromosomes (records) of this shard; default: all")
    p.add_argument("--chroms-file", metavar="FILE",
                   help="the chromosomes of this shard, one name per line (e.g. the workflow's "
                        "packs of small scaffolds, too many for a command line)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--null", metavar="NPZ",
                   help="null written by `seqfm scan-null` (default: build it here)")
    p.add_argument("--filters-tsv", metavar="TSV",
                   help="filters.tsv naming each filter's motif cluster and best match (optional)")

    s = p.add_argument_group("scanning")
    add_scanning_options(s)
    s.add_argument("--q", type=float, default=0.05, help="Benjamini-Hochberg q-value threshold")
    s.add_argument("--merge-calls", choices=["cluster", "all", "none"], default="all",
                   help="overlapping filter calls keep only the best: all of them (one call per "
                        "site, default), those of one motif cluster (each filter its own without "
                        "--filters-tsv), or none")
    s.add_argument("--tracks", default="", metavar="FILTERS",
                   help="also write these filters' activations as bigWigs, e.g. filter_3,filter_7")
    s.add_argument("--bin", type=int, default=10,
                   help="bigWig resolution in bases (mean per bin; default: 10)")
    s.add_argument("--zooms", type=int, default=10,
                   help="bigWig zoom levels; libBigWig builds them in memory at the end (about 14 "
                        "bytes per base), so shards to be merged are written without them")
    s.add_argument("--shard", action="store_true",
                   help="a shard to be merged: write only what `seqfm scan-merge` reads "
                        "(candidates.npz, bigWigs without zoom levels, scan.json); the merge "
                        "writes the BED and GFF3")
    s.add_argument("--max-candidates", type=int, default=250_000,
                   help="candidates kept per shard and family (smallest p-values)")
    add_null_options(p.add_argument_group("the null (built here without --null)"))
    add_hardware_options(p.add_argument_group("hardware"))
    _moved(p, "--make-null", "seqfm scan-null", nargs=0)
    _moved(p, "--gather", "seqfm scan-merge", nargs="+")
    _moved(p, "--merge", "seqfm scan-merge", nargs="+")


def _moved(p, option: str, verb: str, **kwargs) -> None:
    """An option that became a verb of its own: one line saying which."""
    import argparse

    class Moved(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            parser.exit(2, f"seqfm scan: {option} is now a verb of its own: `{verb}` "
                           f"(see `{verb} --help`)\n")

    p.add_argument(option, action=Moved, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kwargs)


def config_from(args, **extra):
    """The :class:`seqfm.scanner.ScanConfig` of the options a verb has."""
    from ..scanner import ScanConfig

    names = ("tile", "batch_size", "nms_width", "core_fraction", "cam", "strata", "null_bases",
             "null_window", "tail_fraction", "seed", "device", "engine", "q", "bin", "zooms",
             "max_candidates")
    kw = {n: getattr(args, n) for n in names if hasattr(args, n)}
    if hasattr(args, "merge_calls"):
        kw["merge"] = args.merge_calls
    if getattr(args, "tracks", ""):
        kw["tracks"] = [t.strip() for t in args.tracks.split(",") if t.strip()]
    return ScanConfig(**kw, **extra)


def run(args) -> None:
    import json

    from .. import scan
    from ..errors import InputError
    from ..shard_plan import read_chroms_file
    from ._common import progress, threads

    chroms = [c.strip() for c in args.chrom.split(",") if c.strip()]
    if args.chroms_file:
        if chroms:
            raise InputError("scan takes --chrom or --chroms-file, not both")
        chroms = read_chroms_file(args.chroms_file)
    res = scan.run(args.model, args.model_json, args.genome or args.fasta, args.out, chroms=chroms,
                   conservation=[c for c in args.conservation.split(",") if c],
                   fill=args.fill, config=config_from(args), null_path=args.null,
                   filters_tsv=args.filters_tsv, threads=threads(args), progress=progress(args),
                   shard=args.shard)
    print(json.dumps({k: v for k, v in res.items() if not isinstance(v, list)}))
