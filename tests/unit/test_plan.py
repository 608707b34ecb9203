"""The workflow's plan (chexpertnet.plan), called directly: paths, targets, arguments and cluster requests. Expected
values are worked out by hand from the formulas' documented constants, not by calling the code under test again."""

from __future__ import annotations

import copy
import json
import math
import shlex

import pytest
import yaml

from chexpertnet.plan import flags, requests
from chexpertnet.plan import workflow as P
from conftest import REPO, write_dataset

DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())
PAPER = yaml.safe_load((REPO / "config/chexpert.yaml").read_text())
MB = 1024 * 1024


def config(**changes) -> dict:
    """The built-in default with top-level sections updated (dicts merged one level deep)."""
    c = copy.deepcopy(DEFAULT)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(c.get(key), dict) and key != "experiments":
            c[key].update(value)
        else:
            c[key] = value
    return c


#: The paper's image sizes
PAPER_IMAGE = {"cache_size": 364, "crop_size": 320}

#: The built-in default without its test split (phantom.test_patients 0)
NO_TEST = {"test_patients": 0}


def real(root, **changes) -> dict:
    return config(dataset={"name": "real", "source": "chexpert", "root": str(root)}, **changes)


def csv_with_rows(path, rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Path,x\n" + "".join(f"p{i},1\n" for i in range(rows)))
    P.csv_rows.cache_clear()


# --- paths and config checks -----------------------------------------------------------------------------------------
def test_paths_follow_the_dataset_name_and_folder():
    p = P.Plan(config(phantom=NO_TEST))
    assert p.results == "results/phantom" and p.logs == "results/phantom/logs"
    assert p.data_root() == "results/phantom/data"
    assert p.split_csv("valid") == "results/phantom/data/CheXpert-v1.0-small/valid.csv"
    assert p.view_csv("train") == "results/phantom/data/validated/CheXpert-v1.0-small/train.csv"
    assert p.csv_stamp("train") == [] and p.test is None and p.phantom_outputs()["test_labels"] == []
    weights = p.manifest_path("frontal", "ones", "valid", "weights")
    assert weights == "results/phantom/manifests/frontal-ones/valid.weights.csv"
    with pytest.raises(ValueError, match="no test split"):
        p.split_csv("test")


def test_real_data_paths_stamps_and_root_errors(tmp_path):
    write_dataset(tmp_path / "root")
    p = P.Plan(real(tmp_path / "root"))
    assert p.data_root() == str(tmp_path / "root") and p.real_data
    assert p.split_csv("train") == f"{tmp_path}/root/CheXpert-v1.0-small/train.csv"
    assert p.csv_stamp("valid") == "results/real/data/validated/valid.sha256.json"
    assert p.split_report("test") == "results/real/test_labels.json" and p.split_report("train") == p.validation
    assert p.data_threads(8) == 8 and P.Plan(config()).data_threads(8) == 1
    with pytest.raises(ValueError, match=r"dataset\.root is not set"):
        P.Plan(config(dataset={"name": "real", "source": "chexpert", "root": None})).data_root()
    with pytest.raises(ValueError, match=r"did you mean dataset\.root"):
        P.Plan(real(tmp_path / "root/CheXpert-v1.0-small")).data_root()


def test_test_split_sources():
    p = P.Plan(config(phantom={"test_patients": 5}))
    assert p.test == {"labels": "results/phantom/data/test_groundtruth.csv",
                      "images": "results/phantom/data/CheXpert-v1.0-small"}  # fmt: skip
    assert p.phantom_outputs()["test_labels"] == ["results/phantom/data/test_groundtruth.csv"]
    assert p.split_csv("test") == "results/phantom/data/test_groundtruth.csv"
    given = {"labels": "/d/groundtruth.csv", "images": "/d"}
    r = P.Plan(config(dataset={"name": "r", "source": "chexpert", "root": "/x", "test": given}))
    assert r.test == given and r.phantom_outputs()["test_labels"] == []


def test_a_baseline_or_cam_experiment_that_is_not_configured_is_named():
    with pytest.raises(ValueError, match=r"evaluation.baseline` is 'nope'.*\['baseline', 'dataset_norm'"):
        P.Plan(config(evaluation={"baseline": "nope"}))
    with pytest.raises(ValueError, match=r"cam.experiments` names \['ghost'\]"):
        P.Plan(config(cam={"experiments": ["baseline", "ghost"]}))


# --- experiments and training --------------------------------------------------------------------------------------
def test_runs_and_variants_are_sorted():
    experiments = copy.deepcopy(DEFAULT["experiments"])
    experiments["frontal"]["seeds"] = [2, 0]
    experiments["ones"] = {**experiments["baseline"], "uncertainty": "ones", "seeds": [1]}
    p = P.Plan(config(experiments=experiments))
    assert p.runs() == [("baseline", 0), ("dataset_norm", 0), ("frontal", 2), ("frontal", 0), ("frozen", 0),
                        ("ones", 1), ("scratch", 0)]  # fmt: skip
    assert p.variants() == [("both", "multiclass"), ("both", "ones"), ("frontal", "multiclass")]
    assert p.run_files("history")[2] == "results/phantom/models/frontal/seed2/history.jsonl"


def test_train_inputs_follow_the_factors():
    p = P.Plan(config())
    base = p.train_inputs("baseline")
    assert base["pretrained"] == "results/phantom/pretrained/densenet121-synthetic.pt" and "stats" not in base
    assert base["train_manifest"] == "results/phantom/manifests/both-multiclass/train.csv"
    assert "pretrained" not in p.train_inputs("scratch") and "pretrained" in p.train_inputs("frozen")
    assert p.train_inputs("dataset_norm")["stats"] == "results/phantom/stats/both-multiclass.json"
    assert p.train_inputs("frontal")["valid_manifest"] == "results/phantom/manifests/frontal-multiclass/valid.csv"
    assert P.Plan(config(train={"pretrained": "torchvision"})).pretrained_file() == "resources/densenet121-imagenet.pth"
    assert P.Plan(config(train={"pretrained": "/w/my.pt"})).pretrained_file() == "/w/my.pt"


def test_experiment_and_train_arguments():
    experiments = copy.deepcopy(DEFAULT["experiments"])
    experiments["frozen"]["epochs"] = 7
    p = P.Plan(config(experiments=experiments))
    def experiment_args(name, **inputs):
        return flags.experiment_args(p.experiment(name), p.epochs_of(name), inputs)

    assert experiment_args("scratch") == "--init scratch --normalization imagenet --epochs 3"
    assert experiment_args("frozen", pretrained="w.pt") == (
        "--init frozen --normalization imagenet --epochs 7 --pretrained w.pt")
    assert experiment_args("dataset_norm", pretrained="w x.pt", stats="s.json") == (
        "--init pretrained --normalization dataset --epochs 3 --pretrained 'w x.pt' --stats s.json")
    args = shlex.split(flags.train_args(p.config))
    assert args[args.index("--betas") + 1 : args.index("--betas") + 3] == ["0.9", "0.999"]
    assert "--hflip" in args and "--fast" in args and "--deterministic" in args
    assert args[args.index("--checkpoint-every") + 1] == "50"
    assert args[-4:] == ["--dataset", "phantom", "--dataset-source", "phantom"]
    assert "--no-hflip" in flags.train_args(P.Plan(config(image={"hflip": False})).config)


def test_longer_trainings_get_higher_priority_and_the_frozen_backbone_the_lowest():
    experiments = copy.deepcopy(DEFAULT["experiments"])
    experiments["long"] = {**experiments["baseline"], "epochs": 5}
    p = P.Plan(config(experiments=experiments))
    assert p.train_priority("baseline") == pytest.approx(5.03)  # 3 epochs x 1.0
    assert p.train_priority("frozen") == pytest.approx(5 + 3 * 0.45 / 100)
    assert p.train_priority("long") == pytest.approx(5.05)
    experiments["huge"] = {**experiments["baseline"], "epochs": 500}
    huge = P.Plan(config(experiments=experiments)).train_priority("huge")
    assert huge == pytest.approx(5.99)  # capped: below the pretraining's 10


def test_threads_and_gpus():
    assert requests.train_threads(config()["train"]) == 1 and P.Plan(config()).gpus_per_training == 0
    cuda = P.Plan(config(train={"device": "cuda", "threads": 6}))
    assert requests.train_threads(cuda.config["train"]) == 2 and cuda.gpus_per_training == 1


# --- cluster requests ----------------------------------------------------------------------------------------------
def test_planned_sizes_of_files_not_made_yet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = P.Plan(config())  # cache_size 110
    planned = p.requests.planned_mb
    with pytest.raises(P.NotYetKnown):  # the phantom before it is generated
        planned("results/phantom/cache/train.npy")
    csv_with_rows(tmp_path / "results/phantom/data/CheXpert-v1.0-small/train.csv", 1000)
    csv_bytes = len("Path,x\n") + sum(len(f"p{i},1\n") for i in range(1000))
    assert planned("results/phantom/cache/train.npy") == pytest.approx((128 + 1000 * 110 * 110) / MB)
    assert planned("results/phantom/cache/train.histograms.npy") == pytest.approx((128 + 1000 * 1024) / MB)
    assert planned("results/phantom/cache/train.index.csv") == pytest.approx(csv_bytes / MB)
    assert planned("results/phantom/manifests/both-ones/train.csv") == pytest.approx(csv_bytes / MB)
    assert planned("results/phantom/data/validated/CheXpert-v1.0-small/train.csv") == pytest.approx(csv_bytes / MB)
    assert planned("results/phantom/stats/both-ones.json") == 0.0
    assert planned("results/other/cache/train.npy") == 0.0
    # memory: a fixed part plus 4 MB per MB of table, or all inputs plus 8000 MB
    assert p.requests.cache_mem_mb("results/phantom/data/validated/CheXpert-v1.0-small/train.csv") == math.ceil(
        1000 + 4 * csv_bytes / MB)
    (tmp_path / "made.bin").write_bytes(b"\0" * (3 * MB))
    assert p.requests.train_mem_mb(["made.bin", "results/phantom/cache/train.npy"]) == math.ceil(
        3 + (128 + 1000 * 110 * 110) / MB + 8000)
    assert p.requests.stats_mem_mb("made.bin", "results/phantom/manifests/both-ones/train.csv") == math.ceil(
        1000 + 4 * (3 + csv_bytes / MB))


def runtime(plan: P.Plan, name: str, manifest: str) -> int:
    return plan.requests.train_runtime_min(plan.epochs_of(name), manifest)


def test_training_wall_time_by_hand(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    manifest = "results/phantom/manifests/both-multiclass/train.csv"
    p = P.Plan(config(image=PAPER_IMAGE, train={"threads": 4}))
    with pytest.raises(P.NotYetKnown):
        runtime(p, "baseline", manifest)
    # before the manifest exists: the train CSV's images. CPU at 320 px: 3.7 images/s per thread x 4 threads, x2
    csv_with_rows(tmp_path / "results/phantom/data/CheXpert-v1.0-small/train.csv", 20_000)
    assert runtime(p, "baseline", manifest) == math.ceil(30 + 2 * 20_000 * 3 / 14.8 / 60)  # 166
    csv_with_rows(tmp_path / manifest, 100)  # the manifest, once made, wins
    assert runtime(p, "baseline", manifest) == 60  # at least an hour
    # at 160 px a CPU thread does 4x the images
    small = P.Plan(config(image={"cache_size": 182, "crop_size": 160}, train={"threads": 1}))
    csv_with_rows(tmp_path / manifest, 8_000)
    assert runtime(small, "baseline", manifest) == math.ceil(30 + 2 * 8_000 * 3 / 14.8 / 60)  # 85
    # GPU at 320 px: the measured 243.8 images/s (H200, eager) x2; the real training set's 223,414 images x 3 epochs
    cuda = P.Plan(config(train={"device": "cuda"}, image=PAPER_IMAGE))
    csv_with_rows(tmp_path / manifest, 223_414)
    assert runtime(cuda, "baseline", manifest) == math.ceil(30 + 2 * 223_414 * 3 / 243.8 / 60)  # 122
    experiments = copy.deepcopy(DEFAULT["experiments"])
    experiments["baseline"]["epochs"] = 60
    long = P.Plan(config(train={"device": "cuda"}, image=PAPER_IMAGE, experiments=experiments))
    assert runtime(long, "baseline", manifest) == 23 * 60  # at most 23 hours


def test_a_longer_experiment_asks_for_its_own_epochs(tmp_path, monkeypatch):
    """scratch_9ep (9 epochs) asks for 3x the training time of a 3-epoch experiment, plus the same fixed 30 min."""
    monkeypatch.chdir(tmp_path)
    manifest = "results/phantom/manifests/both-multiclass/train.csv"
    csv_with_rows(tmp_path / manifest, 223_414)
    experiments = copy.deepcopy(DEFAULT["experiments"])
    experiments["scratch_9ep"] = {**experiments["scratch"], "epochs": 9}
    plan = P.Plan(config(train={"device": "cuda"}, image=PAPER_IMAGE, experiments=experiments))
    three, nine = runtime(plan, "scratch", manifest), runtime(plan, "scratch_9ep", manifest)
    assert abs((nine - 30) - 3 * (three - 30)) <= 2  # rounding up each
    assert 2.4 < nine / three < 3


# --- evaluation arguments and targets ------------------------------------------------------------------------------
def test_run_flags_quote_files_and_refuse_a_length_mismatch():
    p = P.Plan(config())
    runs = flags.run_flags("--run", p.runs(), [f"p {i}.csv" for i in range(5)], [f"m{i}.pt" for i in range(5)])
    assert shlex.split(runs)[:5] == ["--run", "baseline", "0", "p 0.csv", "m0.pt"]
    assert shlex.split(runs)[-5:] == ["--run", "scratch", "0", "p 4.csv", "m4.pt"]
    with pytest.raises(ValueError, match="4 files for 5 runs"):
        flags.run_flags("--epochs-run", p.runs(), ["a"] * 4)
    assert flags.test_tables_args(p.runs(), None, []) == ""
    assert shlex.split(flags.test_tables_args(p.runs(), "t x.csv", [f"q{i}" for i in range(5)]))[:6] == [
        "--test-labels", "t x.csv", "--test-run", "baseline", "0", "q0"]


def test_experiment_factor_arguments():
    p = P.Plan(config())
    args = flags.experiment_factor_args(p.config["experiments"], p.epochs_of).split("--experiment ")[1:]
    assert [a.strip() for a in args] == [
        "baseline both imagenet pretrained multiclass 3", "dataset_norm both dataset pretrained multiclass 3",
        "frontal frontal imagenet pretrained multiclass 3", "frozen both imagenet frozen multiclass 3",
        "scratch both imagenet scratch multiclass 3",
    ]  # fmt: skip


def test_upstream_steps_follow_the_sources():
    assert P.Plan(config(phantom=NO_TEST)).upstream_steps() == [
        "phantom", "validate", "cache", "manifest", "stats", "pretrain", "train", "score", "tables"]
    test = {"labels": "l", "images": "i"}
    real_test = config(dataset={"name": "r", "source": "chexpert", "root": "/x", "test": test},
                       train={"pretrained": "torchvision"})  # fmt: skip
    assert P.Plan(real_test).upstream_steps() == [
        "validate", "cache", "manifest", "stats", "train", "test_labels", "predict_cache", "score", "tables"]


def test_config_json_puts_the_validated_view_in_place_of_a_real_root():
    phantom = P.Plan(config())
    assert json.loads(phantom.config_json()) == config()  # the default, its test split included
    r = P.Plan(real("/data/here"))
    moved = P.Plan(real("/data/elsewhere"))
    assert json.loads(r.config_json())["dataset"]["root"] == "results/real/data/validated"
    assert r.config_hash() == moved.config_hash() != phantom.config_hash() and len(r.config_hash()) == 16
    # the tables' config leaves out what only the operating points and the readers read
    other_rules = P.Plan(real("/data/here", evaluation={"operating_points": ["youden"]}))
    assert other_rules.config_hash() == r.config_hash() and other_rules.config_json() != r.config_json()
    assert "operating_points" not in json.loads(r.tables_config_json())["evaluation"]


@pytest.mark.parametrize("cam", [{"chexlocalize_maps": True}, {"saliency": "gradcam"}, {"experiments": ["frontal"]}])
def test_a_cam_setting_leaves_the_tables_config_and_an_evaluation_setting_changes_it(cam):
    default = P.Plan(config())
    assert P.Plan(config(cam=cam)).tables_config_json() == default.tables_config_json()
    assert P.Plan(config(cam=cam)).config_json() != default.config_json()  # the report still shows it
    assert P.Plan(config(evaluation={"resamples": 999})).config_hash() != default.config_hash()
    assert P.Plan(config(train={"lr": 0.001})).config_hash() != default.config_hash()
    assert "cam" not in json.loads(default.tables_config_json())


def test_targets_of_the_default_and_with_a_test_split():
    p = P.Plan(config(phantom=NO_TEST))
    targets = p.all_targets()
    assert len(targets) == len(set(targets))
    assert p.table_names == ["baseline", "dataset_norm", "frontal", "frozen", "scratch", "comparison", "claims",
                             "paper_vs_ours"]  # fmt: skip
    for f in ("results/phantom/validation.json", "results/phantom/cache/valid.histograms.npy",
              "results/phantom/manifests/frontal-multiclass/train.summary.json",
              "results/phantom/stats/frontal-multiclass.json", "results/phantom/scores/frozen/seed0.csv",
              "results/phantom/tables/claims.md", "results/phantom/tables/scratch.epochs.csv",
              "results/phantom/tables/history.csv", "results/phantom/tables/latest_diff.html",
              "results/phantom/cam/baseline/seed0/chexlocalize.csv", "results/phantom/report.html",
              "results/phantom/operating_points/frozen/seed0.csv", "results/phantom/tables/operating_points.md"):
        assert f in targets, f
    assert not [t for t in targets if "/test" in t]
    # without a test split there are no readers, so their rule is left out of the operating points
    assert p.readers == [] and p.operating_points == ["youden", "sensitivity=0.9", "specificity=0.9"]
    assert p.decision_tables == ["operating_points"]
    assert p.report_targets()[-3:] == ["results/phantom/cam/baseline/seed0/figure1.png",
                                       "results/phantom/cam/baseline/seed0/localization.html",
                                       "results/phantom/tables/operating_points.html"]  # fmt: skip
    t = P.Plan(config(phantom={"test_patients": 3}))
    assert t.table_names[-3:] == ["test.scratch", "test.comparison", "test.claims"]
    assert "results/phantom/test/scores/frontal/seed0.csv" in t.all_targets()
    assert "results/phantom/manifests/both-multiclass/test.csv" in t.experiment_manifests()
    # test predictions and scores; 7 tables x 3 formats; the baseline's CAM files on the test set (the phantom writes
    # CheXlocalize's truth of its test split); per run the 4 rules' test decisions and the readers' 4 files; the
    # tables of the test set's operating points and of the readers (csv and md here, html in the report targets);
    # the phantom's 3 readers and their declaration
    readers = 5 * 4 + 5 * 4 + 2 * 2 + 2 + 4
    assert len(t.all_targets()) == len(targets) + 2 * 5 + 3 * 7 + 5 + readers
    assert t.cam_test_inputs("baseline", 0)["chexlocalize"] == "results/phantom/data/gt_segmentations_test.json"
    assert t.cam_test_inputs("baseline", 0)["thresholds"] == "results/phantom/cam/baseline/seed0/chexlocalize.csv"
    assert "results/phantom/test/cam/baseline/seed0/localization.html" in t.report_targets()
    # real data: the test set's CAMs only with its CheXlocalize truth; thresholds only with valid's truth too
    real = {"dataset": {"name": "chexpert", "source": "chexpert", "root": "/x",
                        "test": {"labels": "/t/groundtruth.csv", "images": "/t"}}}  # fmt: skip
    assert P.Plan(config(**real)).cam_test_runs() == []
    with_test = P.Plan(config(**real, cam={"chexlocalize_test": "/c/gt_segmentations_test.json"}))
    assert with_test.cam_test_runs() == [("baseline", 0)] and "thresholds" not in with_test.cam_test_inputs(
        "baseline", 0)
    both = P.Plan(config(**real, cam={"chexlocalize": "/c/val.json", "chexlocalize_test": "/c/test.json"}))
    assert "--chexlocalize-thresholds results/chexpert/cam/baseline/seed0/chexlocalize.csv" in flags.cam_args(
        both.config["cam"], {"chexlocalize": "/c/test.json"}, "test", both.cam_test_inputs("baseline", 0)["thresholds"])


def test_cam_inputs_and_arguments(tmp_path):
    p = P.Plan(config())
    assert p.cam_runs() == [("baseline", 0)]
    inputs = p.cam_inputs("baseline", 0)
    assert inputs["boxes"] == "results/phantom/data/phantom_truth.csv" and inputs["stamp"] == []
    assert inputs["labels"] == "results/phantom/data/validated/CheXpert-v1.0-small/valid.csv"
    r = P.Plan(real("/x", cam={"boxes": None, "chexlocalize": "/c/gt.json"}))
    assert "boxes" not in r.cam_inputs("baseline", 0) and r.cam_inputs("baseline", 0)["chexlocalize"] == "/c/gt.json"
    cam = p.config["cam"]
    args = shlex.split(flags.cam_args(cam, {"boxes": "b x.csv"}, "valid", None))
    assert args[:6] == ["--observations", "Lung Opacity", "Enlarged Cardiomediastinum", "Pleural Effusion",
                        "Cardiomegaly", "Pneumothorax"]  # fmt: skip
    assert args[-2:] == ["--boxes", "b x.csv"] and "--chexlocalize" not in args
    assert shlex.split(flags.cam_args(cam, {"chexlocalize": "g.json"}, "valid", None))[-6:] == [
        "--chexlocalize", "g.json", "--chexlocalize-split", "valid",
                                                            "--saliency", "cam"]  # fmt: skip
    tuned = P.Plan(real("/x", cam={"chexlocalize": "/c/gt.json", "saliency": "gradcam",
                                   "chexlocalize_thresholds": "/c/valid thresholds.csv"}))  # fmt: skip
    tuned_cam = tuned.config["cam"]
    tuned_args = flags.cam_args(tuned_cam, {"chexlocalize": "g.json"}, "valid", tuned_cam["chexlocalize_thresholds"])
    assert shlex.split(tuned_args)[-4:] == ["--saliency", "gradcam", "--chexlocalize-thresholds",
                                                               "/c/valid thresholds.csv"]  # fmt: skip


def test_the_paper_config_plans_its_seeds(tmp_path):
    write_dataset(tmp_path / "root")
    c = copy.deepcopy(PAPER)
    c["dataset"]["root"] = str(tmp_path / "root")
    p = P.Plan(c)
    assert p.results == "results/chexpert" and p.gpus_per_training == 1
    # the paper's four experiments and the two its claims need, 3 seeds each: 18 trainings (README), sorted by name
    experiments = ("baseline", "dataset_norm", "frontal", "frozen", "scratch", "scratch_9ep")
    assert p.runs() == [(name, seed) for name in experiments for seed in (0, 1, 2)]
    assert len(p.runs()) == 18


def test_operating_points_and_readers_arguments():
    assert [flags.operating_point_arg(r) for r in ("youden", {"sensitivity": 0.9}, {"specificity": 0.95})] == [
        "youden", "sensitivity=0.9", "specificity=0.95"]
    p = P.Plan(config())  # the default: its phantom test split brings the simulated readers
    assert p.readers == [f"results/phantom/data/readers/phantom_reader{i}.csv" for i in (1, 2, 3)]
    assert p.operating_points == ["readers_specificity", "youden", "sensitivity=0.9", "specificity=0.9"]
    assert p.decision_tables == ["operating_points", "test.operating_points", "test.readers"]
    inputs = p.operating_points_inputs("frontal", 0)
    assert inputs["readers"] == p.readers and inputs["test_labels"].endswith("validated/CheXpert-v1.0-small/test.csv")
    outputs = [d.format(experiment="frontal", seed=0) for d in p.decision_outputs()]
    args = shlex.split(flags.operating_points_args(p.operating_points, p.readers, inputs, outputs))
    assert args[:8] == ["--rule", "readers_specificity", "--rule", "youden", "--rule", "sensitivity=0.9", "--rule",
                        "specificity=0.9"]  # fmt: skip
    assert args[args.index("--decisions-dir") + 1] == "results/phantom/test/decisions/frontal/seed0"
    assert args[args.index("--readers") + 1 :] == p.readers
    # the readers' job compares the model's decisions at the first rule with theirs
    assert p.readers_inputs("frontal", 0)["decisions"] == (
        "results/phantom/test/decisions/frontal/seed0/readers_specificity.csv")
    real_test = config(dataset={"name": "r", "source": "chexpert", "root": "/x",
                                "test": {"labels": "gt.csv", "images": "/i", "readers": ["bc4.csv", "bc6.csv"]}})
    assert P.Plan(real_test).readers == ["bc4.csv", "bc6.csv"]


def test_the_plans_phantom_readers_are_the_simulated_ones():
    from chexpertnet.data.simulated_readers import READERS

    assert tuple(READERS) == P.PHANTOM_READERS


def test_each_kind_of_table_has_its_own_caption_and_the_report_opens_with_the_workflow():
    names = P.Plan(config()).table_names
    captions = {name: P.table_caption(name) for name in names}
    assert captions["baseline"] == captions["test.frozen"] == "experiment"
    assert captions["comparison"] == captions["test.comparison"] == "comparison"
    assert captions["claims"] == "claims" and captions["paper_vs_ours"] == "paper_vs_ours"
    for caption in {*captions.values(), "operating_points", "readers"}:  # every caption a rule names is an input
        path = f"workflow/report/{caption}.rst"
        assert path in P.REPORT_CAPTIONS and (REPO / path).exists()
    assert 'report: "workflow/report/workflow.rst"' in (REPO / "Snakefile").read_text()
    assert "NF No Finding" in (REPO / "workflow/report/experiment.rst").read_text()


def test_the_localization_caption_defines_chance_as_the_table_does():
    text = " ".join((REPO / "workflow/report/localization.rst").read_text().split())
    assert "share of the map's cells whose centre lies in the box" in text and "image-blind pointer" in text
