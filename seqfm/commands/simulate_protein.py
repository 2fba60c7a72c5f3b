"""Write the protein example: proteins with planted Walker A (P-loop) and C2H2 zinc-finger
motifs sampled with variation, motif-free control proteins, a simulated MSA per protein
(A3M, query first; planted sites and one decoy segment per protein conserved) and a truth
table of planted residues."""

HELP = "write the seeded protein example (proteins, MSAs, truth table)"
ORDER = 11


def add_arguments(p) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--n-positives", type=int, default=400, help="proteins with planted motifs")
    p.add_argument("--n-negatives", type=int, default=400, help="control proteins without motifs")
    p.add_argument("--min-length", type=int, default=120)
    p.add_argument("--max-length", type=int, default=240)
    p.add_argument("--two-motif-fraction", type=float, default=0.2)
    p.add_argument("--n-homologs", type=int, default=24, help="rows per MSA besides the query")


def run(args) -> None:
    from ..simulate_protein import simulate_protein

    simulate_protein(args.out, seed=args.seed, n_positives=args.n_positives,
                     n_negatives=args.n_negatives, min_length=args.min_length,
                     max_length=args.max_length, two_motif_fraction=args.two_motif_fraction,
                     n_homologs=args.n_homologs)
