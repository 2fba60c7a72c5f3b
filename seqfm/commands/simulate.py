"""Write the embedded example's DNA data: a seeded genome with planted JASPAR motifs.

Writes into --out: genome.fa (+ .fai), positives.bed, positives.narrowPeak, truth.bed (the
planted sites), decoys.bed (the motif-free conserved regions), decoy_elements.bed (the conserved
site-shaped elements inside them), conservation.bw (optionally conservation.bedGraph) and
simulate.json. Files are
written under temporary names and renamed into place once all are complete; the same seed
gives byte-identical files.
"""

from __future__ import annotations

import argparse

HELP = "write the example data: a genome with planted JASPAR motifs, regions, truth, conservation"
ORDER = 10

_DEFAULT_MOTIFS = "MA0139.2,MA0035.2,MA0047.4,MA0093.4"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--genome-size", type=int, default=3_000_000, metavar="BP",
                        help="total genome length")
    parser.add_argument("--n-chroms", type=int, default=5, help="number of chromosomes")
    parser.add_argument("--n-positives", type=int, default=2400, metavar="N",
                        help="positive regions, each with planted motif sites")
    parser.add_argument("--n-decoys", type=int, default=None, metavar="N",
                        help="conserved regions without motifs (None: as many as positives)")
    parser.add_argument("--motifs", default=_DEFAULT_MOTIFS, metavar="IDS",
                        help="comma-separated JASPAR matrix ids to plant "
                             "(CTCF, GATA1, FOXA2, USF1 by default)")
    parser.add_argument("--two-motif-fraction", type=float, default=0.3, metavar="F",
                        help="share of positive regions with two different motifs")
    parser.add_argument("--gc", type=float, default=0.41, help="background GC fraction")
    parser.add_argument("--cpg-oe", type=float, default=0.22,
                        help="background CpG observed/expected ratio")
    parser.add_argument("--n-gaps", type=int, default=3, help="runs of N (1-5 kb each)")
    parser.add_argument("--mask-fraction", type=float, default=0.05, metavar="F",
                        help="share of the genome soft-masked (lowercase)")
    parser.add_argument("--min-length", type=int, default=200, metavar="BP",
                        help="shortest region")
    parser.add_argument("--max-length", type=int, default=500, metavar="BP",
                        help="longest region")
    parser.add_argument("--conservation-boost", type=float, default=3.0, metavar="X",
                        help="mean conservation added over sites and decoy cores")
    parser.add_argument("--bedgraph", action="store_true",
                        help="also write conservation.bedGraph")
    parser.add_argument("--jaspar-release", default="JASPAR2026",
                        help="pyjaspar release the matrices come from")


def run(args: argparse.Namespace) -> None:
    from ..simulate import simulate

    motifs = [m.strip() for m in args.motifs.split(",") if m.strip()]
    summary = simulate(
        args.out, seed=args.seed, genome_size=args.genome_size, n_chroms=args.n_chroms,
        n_positives=args.n_positives, n_decoys=args.n_decoys, motifs=motifs,
        two_motif_fraction=args.two_motif_fraction, gc=args.gc, cpg_oe=args.cpg_oe,
        n_gaps=args.n_gaps, mask_fraction=args.mask_fraction, min_length=args.min_length,
        max_length=args.max_length, conservation_boost=args.conservation_boost,
        bedgraph=args.bedgraph, jaspar_release=args.jaspar_release,
    )
    print(f"{args.out}: {summary['genome_bp']:,} bp, GC {summary['gc_fraction']:.3f}, "
          f"CpG o/e {summary['cpg_observed_expected']:.3f}, "
          f"{summary['counts']['positives']} positives, {summary['counts']['sites']} sites, "
          f"{summary['counts']['decoys']} decoys")
