# predictions -> patient-level scores -> tables, figures and the report


rule score:
    input:
        predictions=PATH("predictions"),
        labels=validated(view_csv("valid")),
        stamp=csv_stamp("valid"),
    output:
        PATH("scores"),
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
        min_positives=config["evaluation"]["min_positives"],
        code=code_hash("score"),
    shell:
        "python -m chexpertnet score --predictions {input.predictions} --labels {input.labels}"
        " --aggregate {params.aggregate} --resamples {params.resamples} --seed {params.seed}"
        " --min-positives {params.min_positives} --out {output} 2> {log}"


rule predict_test:
    input:
        unpack(predict_test_inputs),
    output:
        PATH("test_predictions"),
    log:
        f"{LOGS}/predict_test/{{experiment}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/predict_test/{{experiment}}/seed{{seed}}.tsv"
    conda:
        CONDA_ENV
    threads: TRAIN_THREADS
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPUS_PER_TRAINING,
    params:
        device=config["train"]["device"],
        code=code_hash("predict_cache"),
    shell:
        "python -m chexpertnet predict-cache --model {input.model} --manifest {input.manifest}"
        " --cache {input.cache} {input.index} --device {params.device} --threads {threads} --out {output} 2> {log}"


# the test set's scores: the validation scores' rule on the test predictions and labels
use rule score as score_test with:
    input:
        predictions=PATH("test_predictions"),
        labels=validated(view_csv("test")),
        stamp=csv_stamp("test"),
    output:
        PATH("test_scores"),
    log:
        f"{LOGS}/score_test/{{experiment}}/seed{{seed}}.log",


rule tables:
    input:
        labels=validated(view_csv("valid")),
        stamp=csv_stamp("valid"),
        train_csv=validated(view_csv("train")),
        train_stamp=csv_stamp("train"),
        predictions=run_files("predictions"),
        models=run_files("model"),
        epochs=run_files("epochs"),
        test_labels=validated(view_csv("test")) if TEST else [],
        test_stamp=csv_stamp("test") if TEST else [],
        test_predictions=test_run_files("predictions"),
        manifests=experiment_manifests(),
        paper=PAPER_VALUES,
    output:
        csv=table_files(".csv"),
        markdown=table_files(".md"),
        html=[
            report(
                path,
                caption=f"../report/{plan.table_caption(name)}.rst",
                category="Tables",
                labels={"table": name},
            )
            for name, path in zip(TABLE_NAMES, table_files(".html"))
        ],
        provenance=table_files(".provenance.json"),
        epoch_csv=epoch_table_files(".csv"),
        epoch_md=epoch_table_files(".md"),
        epoch_provenance=epoch_table_files(".provenance.json"),
        history=version_files(".csv"),
        history_md=version_files(".md"),
        history_html=[
            report(
                path,
                caption="../report/versions.rst",
                category="Tables",
                labels={"table": name},
            )
            for name, path in zip(VERSION_FILES, version_files(".html"))
        ],
    log:
        f"{LOGS}/tables.log",
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        experiments=EXPERIMENT_FACTOR_ARGS,
        runs=tables_run_args,
        test_runs=test_tables_args,
        epochs_runs=epochs_run_args,
        manifests=manifest_args,
        aggregate=config["evaluation"]["aggregate"],
        resamples=config["evaluation"]["resamples"],
        seed=config["evaluation"]["seed"],
        baseline=config["evaluation"]["baseline"],
        min_positives=config["evaluation"]["min_positives"],
        margin=config["claims"]["margin"],
        phantom=PHANTOM_FLAG,
        config_hash=config_hash(),
        config_json=PLAN.tables_config_json(),
        out_dir=output_dir,
        archive=ARCHIVE,
        codes=upstream_code_args(),
        code=code_hash("tables"),
    shell:
        "python -m chexpertnet tables --labels {input.labels} --dataset-csv {input.train_csv}"
        " {params.experiments} {params.runs} {params.test_runs} {params.epochs_runs} {params.manifests}"
        " --baseline {params.baseline} --min-positives {params.min_positives} --margin {params.margin} {params.phantom}"
        " --paper {input.paper} --aggregate {params.aggregate} --resamples {params.resamples} --seed {params.seed}"
        " --config-hash {params.config_hash} --config-json {params.config_json:q} --archive {params.archive}"
        " {params.codes} --out-dir {params.out_dir} 2> {log}"


rule tables_diff:
    input:
        history=PATH("table", name="history", suffix=".csv"),
    output:
        markdown=PATH("table_diff", suffix=".md"),
        html=PATH("table_diff", suffix=".html"),
        csv=PATH("table_diff", suffix=".csv"),
    log:
        f"{LOGS}/tables_diff/v{{old}}-v{{new}}.log",
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        archive=ARCHIVE,
        code=code_hash("tables_diff"),
    shell:
        "python -m chexpertnet tables-diff --archive {params.archive} --old {wildcards.old}"
        " --new {wildcards.new} --out {output.markdown} 2> {log}"


rule figures:
    input:
        labels=validated(view_csv("valid")),
        stamp=csv_stamp("valid"),
        predictions=run_files("predictions"),
        histories=run_files("history"),
        epochs=run_files("epochs"),
    output:
        roc=report(
            PATH("figure", name="roc"),
            caption="../report/roc.rst",
            category="Figures",
            labels={"figure": "ROC curves"},
        ),
        learning_curves=report(
            PATH("figure", name="learning_curves"),
            caption="../report/learning_curves.rst",
            category="Figures",
            labels={"figure": "learning curves"},
        ),
    log:
        f"{LOGS}/figures.log",
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        runs=figures_run_args,
        epochs_runs=epochs_run_args,
        aggregate=config["evaluation"]["aggregate"],
        code=code_hash("figures"),
    shell:
        "python -m chexpertnet figures --labels {input.labels} {params.runs} {params.epochs_runs}"
        " --aggregate {params.aggregate} --roc {output.roc} --learning-curves {output.learning_curves} 2> {log}"


rule report:
    input:
        shown=report_targets(),
        captions=REPORT_CAPTIONS,
    output:
        PATH("report"),
    log:
        f"{LOGS}/report.log",
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        snakefile=os.path.relpath(workflow.main_snakefile),  # a moved copy of a run keeps its report
        config_json=config_json(),
        code=code_hash("report"),
    shell:
        "python -m chexpertnet report --snakefile {params.snakefile:q} --config-json {params.config_json:q}"
        " --out {output} {input.shown} 2> {log}"
