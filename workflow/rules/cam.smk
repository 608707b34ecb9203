# a model -> class activation maps: Figure 1 and the localization tables (the pointing game against true boxes;
# CheXlocalize's metrics as the benchmark computes them); with a test split and its CheXlocalize truth, the same on
# the test set with the validation set's tuned thresholds; with cam.chexlocalize_maps, the maps of CheXlocalize's
# validation images as its pickles (a step of its own: switching it on runs only that step)


rule cam:
    input:
        unpack(cam_inputs),
    output:
        figure=report(
            PATH("cam", file="figure1.png"),
            caption="../report/cam.rst",
            category="Class activation maps",
            labels={"experiment": "{experiment}", "figure": "Figure 1"},
        ),
        table=PATH("cam", file="localization.csv"),
        chexlocalize=PATH("cam", file="chexlocalize.csv"),
        markdown=PATH("cam", file="localization.md"),
        html=report(
            PATH("cam", file="localization.html"),
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
        data_root=PATH("view"),
        title="Class activation maps of correctly classified validation images ({experiment}, seed {seed})",
        code=code_hash("cam"),
    shell:
        "python -m chexpertnet cam --model {input.model} --manifest {input.manifest}"
        " --cache {input.cache} {input.index} --predictions {input.predictions} --labels {input.labels}"
        " --data-root {params.data_root} {params.cam_args} --threads {threads} --title {params.title:q}"
        " --figure {output.figure} --table {output.table} --chexlocalize-table {output.chexlocalize} --markdown {output.markdown} --html {output.html}"
        " 2> {log}"


# the test set's CAMs: the validation CAMs' rule on the test images, with valid's tuned thresholds
use rule cam as cam_test with:
    input:
        unpack(cam_test_inputs),
    output:
        figure=report(
            PATH("test_cam", file="figure1.png"),
            caption="../report/cam.rst",
            category="Class activation maps",
            labels={"experiment": "{experiment}", "figure": "Figure 1, test set"},
        ),
        table=PATH("test_cam", file="localization.csv"),
        chexlocalize=PATH("test_cam", file="chexlocalize.csv"),
        markdown=PATH("test_cam", file="localization.md"),
        html=report(
            PATH("test_cam", file="localization.html"),
            caption="../report/localization.rst",
            category="Class activation maps",
            labels={"experiment": "{experiment}", "figure": "localization, test set"},
        ),
    log:
        f"{LOGS}/cam_test/{{experiment}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/cam_test/{{experiment}}/seed{{seed}}.tsv"
    params:
        cam_args=cam_test_args,
        data_root=PATH("view"),
        title="Class activation maps of correctly classified test images ({experiment}, seed {seed})",
        code=code_hash("cam"),


rule chexlocalize_maps:
    input:
        unpack(chexlocalize_maps_inputs),
    output:
        maps=directory(PATH("chexlocalize_maps")),
    log:
        f"{LOGS}/chexlocalize_maps/{{experiment}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/chexlocalize_maps/{{experiment}}/seed{{seed}}.tsv"
    conda:
        CONDA_ENV
    threads: config["train"]["threads"]
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        saliency=config["cam"]["saliency"],
        code=code_hash("chexlocalize_maps"),
    shell:
        "python -m chexpertnet chexlocalize-maps --model {input.model} --manifest {input.manifest}"
        " --cache {input.cache} {input.index} --predictions {input.predictions} --labels {input.labels}"
        " --chexlocalize {input.chexlocalize} --chexlocalize-split valid --saliency {params.saliency}"
        " --threads {threads} --out {output.maps} 2> {log}"
