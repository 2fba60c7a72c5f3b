# `seqfm train`: dataset folder -> trained CNN motif detector, metrics against a k-mer baseline,
# ROC/PR/training-curve figures. Settings: config.yaml's `train:` section (config/README.md).


def _dataset_mb(input):
    """Size of the encoded dataset in MiB (0 while it does not exist yet)."""
    folder = Path(str(input[0]))
    if not folder.is_dir():
        return 0.0
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 2**20


def train_mem_mb(wildcards, input, attempt):
    # torch + the k-mer baseline's feature matrix + the dataset held in memory
    return int((2048 + 6 * _dataset_mb(input)) * attempt)


def train_runtime(wildcards, input, attempt):
    # minutes; about 1.5 min per MiB of codes for a full CPU run, less on a GPU
    return int((30 + 1.5 * _dataset_mb(input)) * attempt)


def train_options(wildcards):
    t = config["train"]
    opts = [
        f"--filters {t['filters']}",
        f"--filter-width {t['protein_filter_width'] if sample(wildcards).alphabet == 'protein' else t['filter_width']}",
        f"--dilated-layers {t['dilated_layers']}",
        f"--dilated-channels {t['dilated_channels']}",
        f"--dropout {t['dropout']}",
        f"--global-pool {t['global_pool']}",
        f"--epochs {t['epochs']}",
        f"--batch-size {t['batch_size']}",
        f"--lr {t['lr']}",
        f"--weight-decay {t['weight_decay']}",
        f"--patience {t['patience']}",
        f"--device {t['device']}",
        f"--baseline-k {t['baseline_k']}",
        f"--seed {config['seed']}",
        "--amp" if t["amp"] else "--no-amp",
    ]
    if t["strand_aware"] != "auto":
        opts.append("--strand-aware" if t["strand_aware"] else "--no-strand-aware")
    return " ".join(opts)


rule train:
    input:
        "results/{sample}/dataset",
    output:
        model="results/{sample}/model.pt",
        json="results/{sample}/model.json",
        metrics="results/{sample}/metrics.json",
        roc=report("results/{sample}/train/roc.png", caption="../report/roc.rst", category="Performance",
                   labels={"sample": "{sample}", "figure": "ROC (test)"}),
        pr=report("results/{sample}/train/pr.png", caption="../report/pr.rst", category="Performance",
                  labels={"sample": "{sample}", "figure": "precision-recall (test)"}),
        curves=report("results/{sample}/train/curves.png", caption="../report/curves.rst",
                      category="Performance", labels={"sample": "{sample}", "figure": "training curves"}),
    params:
        out=lambda w: f"results/{w.sample}",
        opts=train_options,
    log:
        "results/{sample}/logs/train.log",
    threads: config["train"]["threads"]
    resources:
        gpu=1 if config["train"]["gpu"] else 0,
        mem_mb=train_mem_mb,
        runtime=train_runtime,
    shell:
        "seqfm train {input} --out {params.out} {params.opts} --threads {threads} "
        "--no-progress --log {log}"


TARGETS.extend(["model.pt", "model.json", "metrics.json"])
