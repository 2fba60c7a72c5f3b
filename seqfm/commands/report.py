"""Write the motif report: a self-contained HTML page for one sample, or the index page.

A sample's page (--results results/S --out results/S/report.html) shows what was run, the
model's performance beside the k-mer baseline, the motif clusters with their logos and JASPAR
matches, the top binding-site calls, feature maps of the top-scoring sequences and links to every
output file. Images are embedded; the page loads nothing from the network and escapes every
string taken from an input file. Sections whose files are missing are left out with a note.

With --index, --results takes several sample folders and --out (results/index.html) becomes a
page linking each sample's report.html with a one-line summary (test AUROC, top motif).
"""

HELP = "results folder -> self-contained HTML motif report (or, with --index, the index page)"
ORDER = 90


def _key_value(text: str) -> tuple[str, str]:
    import argparse

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, value


def add_arguments(p) -> None:
    p.add_argument("--results", required=True, nargs="+", metavar="DIR",
                   help="the sample's results folder (results/{sample}); with --index, one or more")
    p.add_argument("--out", required=True, metavar="HTML", help="output page (results/{sample}/report.html)")
    p.add_argument("--index", action="store_true",
                   help="write the index page linking every --results folder's report.html")
    p.add_argument("--sample", help="sample name shown on the page (default: the folder's name)")
    p.add_argument("--input", dest="inputs", action="append", type=_key_value, default=[],
                   metavar="NAME=PATH", help="an input the sample was made from, shown under 'What was run' "
                                             "(repeat: positives=..., negatives=..., genome=...)")
    p.add_argument("--config-digest", help="digest of the workflow configuration, shown on the page")
    p.add_argument("--truth", metavar="BED",
                   help="known binding sites (e.g. the example's planted sites), drawn on the feature maps")
    p.add_argument("--max-motifs", type=int, default=30, help="motif clusters shown in the table")
    p.add_argument("--max-sites", type=int, default=25, help="binding-site calls shown in the table")
    p.add_argument("--featuremaps", type=int, default=4, metavar="N",
                   help="top-scoring sequences whose feature maps are drawn")
    p.add_argument("--max-filter-logos", type=int, default=24, help="filter logos shown in the gallery")
    p.add_argument("--embed-downloads", action=__import__("argparse").BooleanOptionalAction, default=True,
                   help="also embed small text outputs (BED, TSV, MEME, JSON) in the page as downloads")


def run(args) -> None:
    import logging

    from .. import report
    from ..errors import InputError

    log = logging.getLogger("seqfm.report")
    if args.index:
        out = report.write_index(args.results, args.out)
        log.info("index of %d sample(s) -> %s", len(args.results), out)
        return
    if len(args.results) != 1:
        raise InputError(f"--results: give one sample folder (got {len(args.results)}); "
                         "several are only for --index")
    out = report.write_report(args.results[0], args.out, sample=args.sample, inputs=dict(args.inputs),
                              config_digest=args.config_digest, truth=args.truth,
                              embed_downloads=args.embed_downloads, max_motifs=args.max_motifs,
                              max_sites=args.max_sites, n_featuremaps=args.featuremaps,
                              max_filter_logos=args.max_filter_logos)
    log.info("report of %s -> %s (%.1f KB)", args.results[0], out, out.stat().st_size / 1024)
