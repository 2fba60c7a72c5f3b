"""Plan a genome scan's shards: every sequence of at least --shard-bases bases is a shard alone,
shorter ones are packed, in the genome's order, into shards of at most --shard-bases bases (an
assembly's thousands of small scaffolds then make a few jobs, not thousands).

Writes OUT/shards.tsv (shard, sequences, bases, first, last; in order) and one OUT/<shard>.txt per
shard naming its sequences, one per line, for `seqfm scan --chroms-file`. The genome is indexed
(.fai) when it has no index yet. The workflow's `scan_plan` checkpoint runs this verb.
"""

HELP = "genome FASTA -> the scan's shards (one job each): long sequences alone, short ones packed"
ORDER = 65


def add_arguments(p) -> None:
    p.add_argument("--genome", required=True, metavar="FASTA", help="genome FASTA (indexed with pyfaidx)")
    p.add_argument("--chrom", default="", metavar="NAMES",
                   help="comma-separated sequences to scan (default: every sequence of the genome)")
    p.add_argument("--shard-bases", type=int, default=50_000_000, metavar="BP",
                   help="a sequence this long is a shard alone; shorter ones are packed up to it")
    p.add_argument("--out", required=True, metavar="DIR", help="plan folder to write")


def run(args) -> None:
    import logging

    from ..errors import InputError
    from ..io import Genome
    from ..shard_plan import plan_shards, write_shard_plan

    sizes = Genome(args.genome).sizes  # builds the .fai when there is none
    wanted = [c.strip() for c in args.chrom.split(",") if c.strip()] or list(sizes)
    missing = [c for c in wanted if c not in sizes]
    if missing:
        raise InputError(f"--chrom: {missing[0]!r} is not a sequence of {args.genome} "
                         f"(it has {len(sizes)}: {', '.join(list(sizes)[:5])}{', ...' if len(sizes) > 5 else ''})")
    wanted = sorted(set(wanted), key=list(sizes).index)
    plan = plan_shards(sizes, wanted, args.shard_bases)
    write_shard_plan(plan, sizes, args.out)
    logging.getLogger("seqfm.scan").info("%d sequence(s), %d bases -> %d shard(s) in %s", len(wanted),
                                         sum(sizes[c] for c in wanted), len(plan), args.out)
