"""Gather the shards of a genome scan (`seqfm scan --shard`) into genome-wide results:
Benjamini-Hochberg q-values over every shard's candidates and tests, one call per site, each
filter call named after the motif whose PWM explains its sequence (with --filters-tsv), and
OUT/sites.bed, OUT/sites.gff3, one bigWig per track with zoom levels (OUT/cam.bw ...), the
browser files and OUT/summary.json. The q threshold, the merging of calls and the null are the
ones the shards recorded in their scan.json.
"""

HELP = "scan shards -> genome-wide calls (BED/GFF3) and bigWig tracks"
ORDER = 75


def add_arguments(p) -> None:
    p.add_argument("--shards", nargs="+", required=True, metavar="SHARD_DIR",
                   help="shard folders of `seqfm scan --shard`")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--filters-tsv", metavar="TSV",
                   help="filters.tsv naming each filter's motif cluster and best match (optional)")


def run(args) -> None:
    import json

    from ..shards import merge_shards

    res = merge_shards(args.shards, args.out, filters_tsv=args.filters_tsv)
    print(json.dumps({k: res[k] for k in ("n_calls", "n_filter_calls", "n_cam_calls")}))
