# `seqfm train`: dataset folder -> trained CNN motif detector, metrics against a k-mer baseline,
# ROC/PR/training-curve figures. Settings: config.yaml's `train:` section (config/README.md).


rule train:
    input:
        dataset="results/{sample}/dataset",
    output:
        model="results/{sample}/model.pt",
        json="results/{sample}/model.json",
        metrics="results/{sample}/metrics.json",
        roc=report(
            "results/{sample}/train/roc.png",
            caption="../report/roc.rst",
            category="Performance",
            labels={"sample": "{sample}", "figure": "ROC (test)"},
        ),
        pr=report(
            "results/{sample}/train/pr.png",
            caption="../report/pr.rst",
            category="Performance",
            labels={"sample": "{sample}", "figure": "precision-recall (test)"},
        ),
        curves=report(
            "results/{sample}/train/curves.png",
            caption="../report/curves.rst",
            category="Performance",
            labels={"sample": "{sample}", "figure": "training curves"},
        ),
    log:
        "results/{sample}/logs/train.log",
    threads: config["train"]["threads"]
    resources:
        gpu=1 if config["train"]["gpu"] else 0,
        mem_mb=train_mem_mb,
        runtime=train_runtime,
    params:
        out=lambda w: f"results/{w.sample}",
        opts=train_options,
    shell:
        "seqfm train --dataset {input.dataset} --out {params.out} {params.opts} "
        "--threads {threads} --no-progress > {log} 2>&1"
