# pretrained weights -> training per (experiment, seed) -> predictions on the validation set


localrules:
    fetch_weights,


rule fetch_weights:
    output:
        IMAGENET_WEIGHTS,
    log:
        "resources/logs/fetch_weights.log",
    conda:
        CONDA_ENV
    params:
        code=code_hash("fetch_weights"),
    shell:
        "python -m chexpertnet fetch-weights --out {output} 2> {log}"


rule pretrain_synthetic:
    output:
        model=SYNTHETIC_WEIGHTS,
        summary=PATH("synthetic_summary"),
    log:
        f"{LOGS}/pretrain_synthetic.log",
    benchmark:
        f"{BENCHMARKS}/pretrain_synthetic.tsv"
    priority: 10
    conda:
        CONDA_ENV
    threads: config["train"]["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        size=config["synthetic"]["size"],
        steps=config["synthetic"]["steps"],
        batch_size=config["synthetic"]["batch_size"],
        seed=config["synthetic"]["seed"],
        code=code_hash("pretrain"),
    shell:
        "python -m chexpertnet pretrain --size {params.size} --steps {params.steps}"
        " --batch-size {params.batch_size} --seed {params.seed} --threads {threads}"
        " --out {output.model} --summary {output.summary} 2> {log}"


rule train:
    input:
        unpack(train_inputs),
    output:
        model=PATH("model"),
        history=PATH("history"),
        config=PATH("train_config"),
        throughput=PATH("throughput"),
        epochs=PATH("epochs"),
        predictions=PATH("predictions"),
    log:
        f"{LOGS}/train/{{experiment}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/train/{{experiment}}/seed{{seed}}.tsv"
    priority: train_priority
    conda:
        CONDA_ENV
    threads: TRAIN_THREADS
    resources:
        gpu=GPUS_PER_TRAINING,
        mem_mb=train_mem_mb,
        runtime=train_runtime_min,
        # 1: copy the image caches to the job's node-local temp folder first (profiles/slurm asks for it)
        stage_cache=0,
    params:
        experiment_args=experiment_args,
        train_args=TRAIN_ARGS,
        state_dir=PATH("state"),
        code=code_hash("train"),
    shell:
        "python -m chexpertnet train --experiment {wildcards.experiment} --seed {wildcards.seed}"
        " --train-manifest {input.train_manifest} --train-weights {input.train_weights}"
        " --valid-manifest {input.valid_manifest}"
        " --train-cache {input.train_cache} {input.train_index} --valid-cache {input.valid_cache} {input.valid_index}"
        " {params.experiment_args} {params.train_args} --threads {threads} --state-dir {params.state_dir}"
        " --stage-cache {resources.stage_cache} --scratch {resources.tmpdir}"
        " --out-model {output.model} --out-history {output.history} --out-config {output.config}"
        " --out-throughput {output.throughput} --out-epochs {output.epochs}"
        " --out-predictions {output.predictions} 2> {log}"
