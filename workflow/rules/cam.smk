# a model -> class activation maps: Figure 1 and the localization tables (the pointing game against true boxes;
# CheXlocalize's metrics as the benchmark computes them), and with cam.chexlocalize_maps the maps as its pickles


rule cam:
    input:
        unpack(cam_inputs),
    output:
        **CAM_MAPS_OUTPUT,
        figure=report(
            f"{RESULTS}/cam/{{experiment}}/seed{{seed}}/figure1.png",
            caption="../report/cam.rst",
            category="Class activation maps",
            labels={"experiment": "{experiment}", "figure": "Figure 1"},
        ),
        table=f"{RESULTS}/cam/{{experiment}}/seed{{seed}}/localization.csv",
        chexlocalize=f"{RESULTS}/cam/{{experiment}}/seed{{seed}}/chexlocalize.csv",
        markdown=f"{RESULTS}/cam/{{experiment}}/seed{{seed}}/localization.md",
        html=report(
            f"{RESULTS}/cam/{{experiment}}/seed{{seed}}/localization.html",
            caption="../report/localization.rst",
            category="Class activation maps",
            labels={"experiment": "{experiment}", "figure": "localization"},
        ),
    log:
        f"{LOGS}/cam/{{experiment}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/cam/{{experiment}}/seed{{seed}}.tsv"
    conda:
        CONDA_ENV
    threads: config["train"]["threads"]
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        cam_args=cam_args,
        data_root=VIEW,
        title="Class activation maps of correctly classified validation images ({experiment}, seed {seed})",
        maps_out=cam_maps_arg,
        code=code_hash("cam"),
    shell:
        "python -m chexpertnet cam --model {input.model} --manifest {input.manifest}"
        " --cache {input.cache} {input.index} --predictions {input.predictions} --labels {input.labels}"
        " --data-root {params.data_root} {params.cam_args} --threads {threads} --title {params.title:q}"
        " --figure {output.figure} --table {output.table} --chexlocalize-table {output.chexlocalize} --markdown {output.markdown} --html {output.html}"
        " {params.maps_out} 2> {log}"
