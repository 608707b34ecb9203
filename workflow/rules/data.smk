# dataset -> validation -> image cache -> manifests per view variant -> dataset statistics


rule phantom:
    output:
        **PHANTOM_OUTPUTS,
    log:
        f"{LOGS}/phantom.log",
    benchmark:
        f"{BENCHMARKS}/phantom.tsv"
    priority: 50
    localrule: True
    conda:
        CONDA_ENV
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        train_patients=config["phantom"]["train_patients"],
        valid_patients=config["phantom"]["valid_patients"],
        seed=config["phantom"]["seed"],
        height=config["phantom"]["height"],
        test_patients=config["phantom"].get("test_patients", 0),
        code=code_hash("phantom"),
    shell:
        "python -m chexpertnet phantom --out $(dirname {output.truth}) --train-patients {params.train_patients}"
        " --valid-patients {params.valid_patients} --seed {params.seed}"
        " --height {params.height} --test-patients {params.test_patients}"
        " --workers {threads} 2> {log}"


rule phantom_readers:
    input:
        labels=PHANTOM_OUTPUTS["test_labels"],
    output:
        PHANTOM_READERS,
    log:
        f"{LOGS}/phantom_readers.log",
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        seed=config["phantom"]["seed"],
        out_dir=output_dir,
        code=code_hash("phantom_readers"),
    shell:
        "python -m chexpertnet phantom-readers --labels {input.labels} --seed {params.seed}"
        " --out-dir {params.out_dir} 2> {log}"


rule validate:
    input:
        train=validate_input("train"),
        valid=validate_input("valid"),
    output:
        report=VALIDATION,
        train=view_csv("train"),
        valid=view_csv("valid"),
    log:
        f"{LOGS}/validate.log",
    benchmark:
        f"{BENCHMARKS}/validate.tsv"
    priority: 50
    conda:
        CONDA_ENV
    threads: data_threads(4)
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        view=view_folder,
        folder=DATA_FOLDER,
        code=code_hash("validate"),
    shell:
        "python -m chexpertnet validate --train-csv {input.train} --valid-csv {input.valid}"
        " --threads {threads} --out {output.report} --out-view {params.view} --folder {params.folder} 2> {log}"


rule stamp:
    output:
        PATH("stamp"),
    log:
        f"{LOGS}/stamp/{{split}}.log",
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        sha256=csv_digest,
        code=code_hash("stamp"),
    shell:
        "python -m chexpertnet stamp --split {wildcards.split} --sha256 {params.sha256} --out {output} 2> {log}"


rule test_labels:
    input:
        labels=split_csv("test") if TEST else [],
        train=validated(view_csv("train")),
        valid=validated(view_csv("valid")),
    output:
        csv=view_csv("test"),
        report=TEST_REPORT,
    log:
        f"{LOGS}/test_labels.log",
    priority: 50
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        images=TEST["images"] if TEST else "",
        view=test_view_folder,
        folder=DATA_FOLDER,
        code=code_hash("test_labels"),
    shell:
        "python -m chexpertnet test-labels --labels {input.labels} --images {params.images:q}"
        " --folder {params.folder} --exclude-patients {input.train} {input.valid} --out-view {params.view}"
        " --out {output.csv} --report {output.report} 2> {log}"


rule cache:
    input:
        csv=validated(view_csv("{split}")),
        stamp=split_stamp,
        validated=split_report,
    output:
        array=PATH("cache", suffix=".npy"),
        index=PATH("cache", suffix=".index.csv"),
        histograms=PATH("cache", suffix=".histograms.npy"),
    log:
        f"{LOGS}/cache/{{split}}.log",
    benchmark:
        f"{BENCHMARKS}/cache/{{split}}.tsv"
    priority: 50
    conda:
        CONDA_ENV
    threads: data_threads(8)
    resources:
        mem_mb=cache_mem_mb,
        runtime=240,
    params:
        size=config["image"]["cache_size"],
        code=code_hash("cache"),
    shell:
        "python -m chexpertnet cache --csv {input.csv} --validated {input.validated}"
        " --size {params.size} --threads {threads} --out-array {output.array} --out-index {output.index}"
        " --out-histograms {output.histograms} 2> {log}"


rule manifest:
    input:
        csv=validated(view_csv("{split}")),
        stamp=split_stamp,
        validated=split_report,
    output:
        manifest=PATH("manifest", suffix=".csv"),
        summary=PATH("manifest", suffix=".summary.json"),
        weights=PATH("manifest", suffix=".weights.csv"),
    log:
        f"{LOGS}/manifests/{{views}}-{{uncertainty}}/{{split}}.log",
    benchmark:
        f"{BENCHMARKS}/manifests/{{views}}-{{uncertainty}}/{{split}}.tsv"
    priority: 50
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        blank=config["labels"]["blank"],
        seed=config["manifest"]["seed"],
        code=code_hash("manifest"),
    shell:
        "python -m chexpertnet manifest --csv {input.csv} --validated {input.validated} --views {wildcards.views}"
        " --uncertainty {wildcards.uncertainty} --blank {params.blank} --seed {params.seed}"
        " --out {output.manifest} --summary {output.summary} --weights {output.weights} 2> {log}"


rule stats:
    input:
        histograms=PATH("cache", split="train", suffix=".histograms.npy"),
        index=PATH("cache", split="train", suffix=".index.csv"),
        manifest=PATH("manifest", split="train", suffix=".csv"),
    output:
        PATH("stats"),
    log:
        f"{LOGS}/stats/{{views}}-{{uncertainty}}.log",
    benchmark:
        f"{BENCHMARKS}/stats/{{views}}-{{uncertainty}}.tsv"
    priority: 50
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=stats_mem_mb,
        runtime=60,
    params:
        code=code_hash("stats"),
    shell:
        "python -m chexpertnet stats --cache-histograms {input.histograms} --cache-index {input.index}"
        " --manifest {input.manifest} --out {output} 2> {log}"
