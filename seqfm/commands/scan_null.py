"""Build a genome scan's empirical null once: seeded windows of the genome (the whole genome
when it is shorter than --null-bases), dinucleotide-shuffled with their conservation tracks kept
in place, scanned as `seqfm scan` scans the genome; every detector's peak values per
conservation stratum, with an exponential upper tail. Writes --out (an .npz) for
`seqfm scan --null`; every shard of a genome then reads the same null.
"""

HELP = "trained model + genome FASTA -> the scan's null (dinucleotide-shuffled windows, tracks in place)"
ORDER = 66


def add_arguments(p) -> None:
    from .scan import add_hardware_options, add_model_options, add_null_options, add_scanning_options

    add_model_options(p)
    p.add_argument("--genome", required=True, metavar="FASTA", help="genome FASTA (indexed with pyfaidx)")
    p.add_argument("--out", required=True, metavar="NPZ", help="the null file to write")
    add_scanning_options(p.add_argument_group("scanning (as the shards scan)"))
    add_null_options(p.add_argument_group("the null"))
    add_hardware_options(p.add_argument_group("hardware"))


def run(args) -> None:
    import json

    from .. import scan
    from ._common import progress, threads
    from .scan import config_from

    res = scan.make_null(args.model, args.model_json, args.genome, args.out,
                         conservation=[c for c in args.conservation.split(",") if c],
                         fill=args.fill, config=config_from(args), threads=threads(args),
                         progress=progress(args))
    print(json.dumps({k: v for k, v in res.items() if not isinstance(v, list)}))
