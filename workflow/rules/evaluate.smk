# predictions -> patient-level scores (tables, figures and the report follow)


rule score:
    input:
        predictions=f"{RESULTS}/predictions/{{experiment}}/seed{{seed}}.csv",
        labels=split_csv("valid"),
    output:
        f"{RESULTS}/scores/{{experiment}}/seed{{seed}}.csv",
    log:
        f"{LOGS}/score/{{experiment}}/seed{{seed}}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        aggregate=config["evaluation"]["aggregate"],
        resamples=config["evaluation"]["resamples"],
        seed=config["evaluation"]["seed"],
        code=code_hash("score"),
    shell:
        "python -m chexpertnet score --predictions {input.predictions} --labels {input.labels}"
        " --aggregate {params.aggregate} --resamples {params.resamples} --seed {params.seed} --out {output} 2> {log}"
