"""Scan a genome (or a FASTA of long sequences) with a trained model: binding-site calls and
bigWig tracks, in tiles, both strands, in memory that does not grow with chromosome length.

Three modes:

  seqfm scan --model M.pt --model-json M.json --genome G.fa --make-null --out DIR
      build the empirical null once (dinucleotide-shuffled windows sampled from the genome,
      seeded) and write DIR/null.npz;
  seqfm scan --model M.pt --model-json M.json --genome G.fa [--chrom chr1 | --chroms-file F]
             [--null N.npz] --out DIR
      scan one shard (the chromosomes given, default all) and write DIR/candidates.npz,
      DIR/sites.bed, DIR/sites.gff3 (q-values of this shard), DIR/cam.bw (+ DIR/filter_K.bw
      for --tracks) and DIR/scan.json; without --null the null is built in process;
  seqfm scan --gather SHARD_DIR [SHARD_DIR ...] --out DIR
      gather shards: genome-wide q-values (Benjamini-Hochberg over every shard's tests),
      DIR/sites.bed, DIR/sites.gff3, one bigWig per track and DIR/summary.json.

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


def add_arguments(p) -> None:
    import argparse

    from ._common import add_deprecated, add_threads, quantiles

    bool_opt = argparse.BooleanOptionalAction
    p.add_argument("--model", metavar="MODEL_PT", help="model.pt (state_dict)")
    p.add_argument("--model-json", metavar="MODEL_JSON", help="model.json (architecture)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--genome", metavar="FASTA", help="genome FASTA (indexed with pyfaidx)")
    src.add_argument("--fasta", metavar="FASTA",
                     help="a FASTA of long sequences (each record scanned like a chromosome)")
    p.add_argument("--chrom", default="", metavar="NAMES",
                   help="comma-separated chromosomes (records) of this shard; default: all")
    p.add_argument("--chroms-file", metavar="FILE",
                   help="the chromosomes of this shard, one name per line (e.g. the workflow's "
                        "packs of small scaffolds, too many for a command line)")
    p.add_argument("--conservation", default="", metavar="TRACKS",
                   help="comma-separated bigWig/bedGraph tracks, as the model was trained with")
    p.add_argument("--fill", type=float, default=0.0, help="track value where a track has no data")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--null", metavar="NPZ", help="null written by --make-null (default: build it here)")
    p.add_argument("--make-null", action="store_true",
                   help="only build the null and write it to --null (default DIR/null.npz)")
    p.add_argument("--gather", nargs="+", metavar="SHARD_DIR",
                   help="gather these shard folders into --out (genome-wide q-values)")
    add_deprecated(p, "--merge", "--gather", dest="gather", nargs="+", metavar="SHARD_DIR")
    p.add_argument("--filters-tsv", metavar="TSV",
                   help="filters.tsv naming each filter's motif cluster and best match (optional)")

    s = p.add_argument_group("scanning")
    s.add_argument("--tile", type=int, default=20_000, help="bases owned by one tile")
    s.add_argument("--batch-size", type=int, default=4, help="tiles per batch on the device")
    s.add_argument("--q", type=float, default=0.05, help="Benjamini-Hochberg q-value threshold")
    s.add_argument("--strata", type=quantiles, default="0.5,0.9,0.97,0.99",
                   help="conservation strata: edges at these quantiles of the track's window means (comma-separated; '' for none); calls are tested within each stratum")
    s.add_argument("--null-bases", type=int, default=10_000_000,
                   help="bases of dinucleotide-shuffled genome windows in the null")
    s.add_argument("--null-window", type=int, default=10_000, help="length of one null window")
    s.add_argument("--tail-fraction", type=float, default=0.01,
                   help="share of each detector's null peaks fitted by the exponential tail")
    s.add_argument("--seed", type=int, default=1, help="seed of the null windows and shuffles")
    s.add_argument("--nms-width", type=_auto_int, default=None, metavar="N|auto",
                   help="non-maximum-suppression window (auto: the filter width)")
    s.add_argument("--core-fraction", type=float, default=0.3,
                   help="filter columns whose weight spread is at least this share of the "
                        "largest form the motif core reported as a filter call")
    s.add_argument("--cam", action=bool_opt, default=True, help="call CAM peaks too")
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
                        "bytes per base), so shards to be merged are best written with 0")
    s.add_argument("--shard", action="store_true",
                   help="a shard to be merged: write only what --gather reads (candidates.npz, "
                        "bigWigs without zoom levels, scan.json); the merge writes the BED and GFF3")
    s.add_argument("--max-candidates", type=int, default=250_000,
                   help="candidates kept per shard and family (smallest p-values)")

    r = p.add_argument_group("hardware")
    r.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    add_threads(r, "torch, and tiles side by side in the fused kernel")
    r.add_argument("--engine", choices=["auto", "fused", "torch"], default="auto",
                   help="auto: a fused CPU kernel for strand-aware models without dilated layers "
                        "on the CPU, PyTorch otherwise (GPU, dilated layers, protein)")
    r.add_argument("--progress", action=bool_opt, default=None,
                   help="progress bar (default: when stderr is a terminal)")


def run(args) -> None:
    import json
    import sys

    from .. import scan
    from ..errors import InputError
    from ._common import threads

    progress = sys.stderr.isatty() if args.progress is None else args.progress
    config = scan.ScanConfig(
        tile=args.tile, batch_size=args.batch_size, q=args.q, null_bases=args.null_bases, strata=args.strata,
        null_window=args.null_window, tail_fraction=args.tail_fraction, seed=args.seed,
        nms_width=args.nms_width, core_fraction=args.core_fraction, cam=args.cam,
        merge=args.merge_calls, tracks=[t.strip() for t in args.tracks.split(",") if t.strip()],
        bin=args.bin, max_candidates=args.max_candidates, device=args.device, engine=args.engine,
        zooms=args.zooms)
    if args.gather:
        labels = _labels_for_merge(args.filters_tsv, args.gather[0]) if args.filters_tsv else None
        res = scan.merge_shards(args.gather, args.out, q=args.q, merge=args.merge_calls, labels=labels)
        print(json.dumps({k: res[k] for k in ("n_calls", "n_filter_calls", "n_cam_calls")}))
        return
    fasta = args.genome or args.fasta
    if not (args.model and args.model_json and fasta):
        raise InputError("scan needs --model, --model-json and --genome (or --fasta), "
                         "or --gather SHARD_DIR ...")
    chroms = [c.strip() for c in args.chrom.split(",") if c.strip()]
    if args.chroms_file:
        if chroms:
            raise InputError("scan takes --chrom or --chroms-file, not both")
        chroms = scan.read_chroms_file(args.chroms_file)
    res = scan.run(args.model, args.model_json, fasta, args.out, chroms=chroms,
                   conservation=[c for c in args.conservation.split(",") if c],
                   fill=args.fill, config=config, null_path=args.null, make_null=args.make_null,
                   filters_tsv=args.filters_tsv, threads=threads(args), progress=progress,
                   shard=args.shard)
    print(json.dumps({k: v for k, v in res.items() if not isinstance(v, list)}))


def _labels_for_merge(filters_tsv, shard):
    """Filter labels for the merge (the number of filters is in the shard's scan.json)."""
    import json
    from pathlib import Path

    from ..errors import InputError
    from ..sites import read_filter_labels

    info = Path(shard) / "scan.json"
    if not info.is_file():
        raise InputError(f"{shard}: not a scan shard folder (no scan.json)")
    from ..alphabet import DNA

    return read_filter_labels(filters_tsv, int(json.loads(info.read_text())["n_filters"]), DNA)
