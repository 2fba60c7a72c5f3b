"""Turn a trained CNN's first-layer filters into motifs: PWMs, influence, clusters, JASPAR matches, logos.

For each filter, the windows of the train + valid positive sequences whose activation (either
strand) passes mean + FRAC * (max - mean) are counted into a PWM (Basset's rule; at least
--min-sites sites, flanks under --trim-bits trimmed). Influence is the loss of class separation
on the validation split when the filter's output channel is zeroed. Filters that fire on the
conservation track without a sequence motif are reported as track-only. Filters that learned one
motif (shifted, partly, or on the other strand) are merged into one cluster when TomTom between
the clusters' merged matrices gives p <= --cluster-max-p both ways and, with --coactivation,
they fire on the same sequences (--min-coactivation); each cluster gets a merged PWM and the
influence of zeroing all its filters together. Clusters and filters are
matched against JASPAR with TomTom (memelite) and a calibrated rule (information floor, E-value,
column-shuffled null). Writes OUT/filters.meme, OUT/motifs.tsv, OUT/logos/ (motif_K.png/.svg;
filters/filter_N.png/.svg with --filter-logos), OUT/interpret/filters.tsv and
OUT/interpret/motifs.meme.
The first TomTom run on a machine compiles memelite's kernels (about a minute) unless
`seqfm warm-up` did; they are kept in a numba cache (NUMBA_CACHE_DIR, default
~/.cache/seqfm/numba) for every later run.
"""

from __future__ import annotations

import argparse

from ..numba_cache import use_numba_cache
from ._common import add_threads, progress, threads

HELP = "trained CNN -> filter PWMs (MEME), motif clusters ranked by influence, JASPAR matches, logos"
ORDER = 50


def add_arguments(p) -> None:
    bool_opt = argparse.BooleanOptionalAction
    p.add_argument("--model", required=True, metavar="MODEL_PT", help="model.pt (state_dict)")
    p.add_argument("--model-json", required=True, metavar="MODEL_JSON", help="model.json")
    p.add_argument("--dataset", required=True, metavar="DATASET_DIR", help="dataset folder the model was trained on")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (results/{sample})")

    g = p.add_argument_group("filter PWMs")
    g.add_argument("--frac", type=float, default=0.7,
                   help="activation threshold: mean + FRAC * (max - mean) of the filter's activations "
                        "(Basset used 0.5; 0.7 gives sharper PWMs: on the example every planted motif "
                        "is annotated, against two of four at 0.5)")
    g.add_argument("--min-sites", type=int, default=10, help="fewer sites and a filter gets no PWM")
    g.add_argument("--trim-bits", type=float, default=0.3,
                   help="trim flank positions with less information (bits)")
    g.add_argument("--pseudocount", type=float, default=0.5, help="added to each letter count")

    c = p.add_argument_group("influence and clusters")
    c.add_argument("--influence", choices=["separation", "auroc", "positives"], default="separation",
                   help="separation: mean logit drop on validation positives minus that on negatives; "
                        "auroc: drop of validation AUROC; positives: mean logit drop on positives "
                        "(when the filter, or all filters of a cluster, is zeroed)")
    c.add_argument("--cluster-similarity", type=float, default=0.7,
                   help="no longer used (kept for older configurations): see --cluster-max-p")
    c.add_argument("--cluster-max-p", type=float, default=3e-4,
                   help="clusters merge when TomTom between their merged matrices (any offset, partial "
                        "overlap, both strands) gives at most this p-value both ways")
    c.add_argument("--coactivation", action=bool_opt, default=True,
                   help="also require filters of one cluster to fire on the same sequences "
                        "(correlation of per-sequence maximum activations)")
    c.add_argument("--min-coactivation", type=float, default=0.2,
                   help="with --coactivation: the smallest mean correlation of two clusters' filters' "
                        "per-sequence maximum activations that lets them merge")

    j = p.add_argument_group("JASPAR annotation (TomTom)")
    j.add_argument("--jaspar-release", default="JASPAR2026", help="pyjaspar release (offline); 'none' for no annotation")
    j.add_argument("--jaspar-collection", default="CORE", help="JASPAR collection")
    j.add_argument("--jaspar-tax-group", default="vertebrates",
                   help="taxon (vertebrates, insects, plants, ...; 'all' for every taxon)")
    j.add_argument("--motif-db", default="", metavar="MEME",
                   help="annotate against this MEME motif file instead of JASPAR (any alphabet: "
                        "protein motifs, or your own DNA collection)")
    j.add_argument("--min-ic", type=float, default=4.0, help="queries with less information (bits) get no match")
    j.add_argument("--min-ic-per-position", type=float, default=0.5,
                   help="queries with less information per position on average (bits) get no match")
    j.add_argument("--max-evalue", type=float, default=0.05, help="largest E-value (p x targets) of a match")
    j.add_argument("--shuffles", type=int, default=30,
                   help="column-shuffled copies of each query for the null (0 = no shuffled null)")
    j.add_argument("--min-z", type=float, default=3.0,
                   help="a match's -log10 p must be this many SDs above its shuffled copies'")

    r = p.add_argument_group("hardware and outputs")
    r.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    add_threads(r)
    r.add_argument("--batch-size", type=int, default=256)
    r.add_argument("--seed", type=int, default=1, help="seed of the column shuffles")
    r.add_argument("--logos", action=bool_opt, default=True,
                   help="draw PNG + SVG logos of the motif clusters (logos/motif_K, logos/track_K)")
    r.add_argument("--filter-logos", action=bool_opt, default=False,
                   help="also draw a PNG + SVG logo of every filter with a PWM (logos/filters/filter_N; "
                        "the report shows the cluster logos, and every filter's PWM is in filters.meme)")
    r.add_argument("--progress", action=bool_opt, default=None,
                   help="progress bars (default: when stderr is a terminal)")


def run(args) -> None:
    # the library loads for the verb that runs: `seqfm --help` stays fast
    from .. import motifs
    from ..annotation import MatchRule

    use_numba_cache()
    rule = MatchRule(min_ic=args.min_ic, min_ic_per_position=args.min_ic_per_position,
                     max_evalue=args.max_evalue, n_shuffles=args.shuffles, min_z=args.min_z, seed=args.seed)
    cfg = motifs.MotifConfig(
        frac=args.frac, min_sites=args.min_sites, trim_bits=args.trim_bits,
        pseudocount=args.pseudocount, cluster_similarity=args.cluster_similarity,
        coactivation=args.coactivation, min_coactivation=args.min_coactivation, cluster_max_p=args.cluster_max_p,
        influence=args.influence, jaspar_release=args.jaspar_release,
        jaspar_collection=args.jaspar_collection, jaspar_tax_group=args.jaspar_tax_group,
        motif_db=args.motif_db, rule=rule, batch_size=args.batch_size, device=args.device, threads=threads(args),
        logos=args.logos, filter_logos=args.filter_logos)
    motifs.run(args.model, args.model_json, args.dataset, args.out, cfg, progress=progress(args))
