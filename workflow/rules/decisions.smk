# predictions -> operating points chosen on validation and kept on the test set (with the test decisions in the
# leaderboard's format) -> radiologists on each model's ROC curve -> their tables over every run


rule operating_points:
    input:
        unpack(operating_points_inputs),
    output:
        csv=PATH("operating_points"),
        decisions=PLAN.decision_outputs(),
    log:
        f"{LOGS}/operating_points/{{experiment}}/seed{{seed}}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        args=operating_points_args,
        aggregate=config["evaluation"]["aggregate"],
        resamples=config["evaluation"]["resamples"],
        seed=config["evaluation"]["seed"],
        min_positives=config["evaluation"]["min_positives"],
        code=code_hash("operating_points"),
    shell:
        "python -m chexpertnet operating-points --predictions {input.predictions} --labels {input.labels}"
        " {params.args} --aggregate {params.aggregate} --resamples {params.resamples} --seed {params.seed}"
        " --min-positives {params.min_positives} --out {output.csv} 2> {log}"


rule readers:
    input:
        unpack(readers_inputs),
    output:
        csv=PATH("readers", suffix=".csv"),
        counts=PATH("readers", suffix=".counts.csv"),
        markdown=PATH("readers", suffix=".md"),
        figure=report(
            PATH("readers", suffix=".png"),
            caption="../report/readers.rst",
            category="Readers",
            labels={"experiment": "{experiment}", "seed": "{seed}"},
        ),
    log:
        f"{LOGS}/readers/{{experiment}}/seed{{seed}}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        decisions=readers_decisions_arg,
        aggregate=config["evaluation"]["aggregate"],
        resamples=config["evaluation"]["resamples"],
        seed=config["evaluation"]["seed"],
        min_positives=config["evaluation"]["min_positives"],
        title="{experiment}, seed {seed}, test set",
        code=code_hash("readers"),
    shell:
        "python -m chexpertnet readers --labels {input.labels} --readers {input.readers}"
        " --predictions {input.predictions} {params.decisions} --aggregate {params.aggregate}"
        " --resamples {params.resamples} --seed {params.seed} --min-positives {params.min_positives}"
        " --out {output.csv} --counts {output.counts} --markdown {output.markdown} --figure {output.figure}"
        " --title {params.title:q} 2> {log}"


rule decision_tables:
    input:
        operating_points=DECISION_INPUTS["operating_points"],
        readers=DECISION_INPUTS["readers"],
        counts=DECISION_INPUTS["counts"],
    output:
        csv=PLAN.decision_table_files(".csv"),
        markdown=PLAN.decision_table_files(".md"),
        html=[
            report(
                path,
                caption=f"../report/{'readers' if name.endswith('readers') else 'operating_points'}.rst",
                category="Tables",
                labels={"table": name},
            )
            for name, path in zip(
                PLAN.decision_tables, PLAN.decision_table_files(".html")
            )
        ],
    log:
        f"{LOGS}/decision_tables.log",
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        args=decision_tables_args,
        resamples=config["evaluation"]["resamples"],
        min_positives=config["evaluation"]["min_positives"],
        out_dir=output_dir,
        code=code_hash("decision_tables"),
    shell:
        "python -m chexpertnet decision-tables {params.args} --resamples {params.resamples}"
        " --min-positives {params.min_positives} --out-dir {params.out_dir} 2> {log}"
