"""Experiment 3's task: padded batches of lines, the CTC loss summed over lines, metrics, the snapshot the
app draws, learning through the real training loop, the configuration and the command line."""

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cwrnn import clock, paper
from cwrnn.cli import main
from cwrnn.config import LIMITS, PRESETS, TUNED_DESIGNS, ConfigError, tuned_settings, validate
from cwrnn.data.handwriting import SHIPPED_FILE, load_handwriting, read_lines, save_lines
from cwrnn.experiment import build_specs, build_task, train_config
from cwrnn.grid import EXPERIMENTS, check_grid
from cwrnn.models import ArchSpec, build_network
from cwrnn.tasks.ctc import best_path, character_error_rate
from cwrnn.tasks.handwriting import HandwritingTask, line_batch, pooled_batches
from cwrnn.train import Callback, TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def shipped():
    return load_handwriting()


def tiny(data, n: int = 8, *, val=None):
    """The n shortest training lines, with an alphabet of just their characters; validation and test are
    the same lines unless given."""
    lines = sorted(data.train, key=lambda line: len(line.features))[:n]
    alphabet = "".join(sorted(set("".join(line.text for line in lines))))
    return dataclasses.replace(data, train=lines, val=val or lines, test=val or lines, alphabet=alphabet)


def bidir(arch: str, n: int = 8) -> ArchSpec:
    return ArchSpec(arch, n, periods=[1, 2, 4, 8] if arch == "cwrnn" else None, forget_bias=0.0, bidirectional=True)


# -- batches ----------------------------------------------------------------------------------------


def test_an_epoch_visits_every_line_once_in_length_sorted_batches():
    rng = np.random.default_rng(0)
    lengths = rng.integers(20, 900, size=203)
    batches = pooled_batches(lengths, 16, epoch=3)
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == list(range(203))
    assert [b.tolist() for b in batches] == [b.tolist() for b in pooled_batches(lengths, 16, epoch=3)]
    assert [b.tolist() for b in batches] != [b.tolist() for b in pooled_batches(lengths, 16, epoch=4)]
    padded = sum(len(b) * lengths[b].max() for b in batches)
    shuffled = np.random.default_rng(1).permutation(203)
    unsorted = sum(len(b) * lengths[b].max() for b in np.array_split(shuffled, len(batches)))
    assert padded < 0.8 * unsorted, "pools sorted by length pad far less than a plain shuffle"


def test_a_batch_holds_each_line_its_length_and_its_labels(shipped):
    lines = shipped.val[:5]
    b = line_batch(lines, shipped)
    assert b.x.shape == (5, max(len(line.features) for line in lines), 4)
    for i, line in enumerate(lines):
        n = len(line.features)
        assert b.lengths[i] == n
        np.testing.assert_array_equal(b.x[i, :n].numpy(), line.features)
        assert not b.x[i, n:].any()
        labels = b.targets[i, : b.target_lengths[i]].tolist()
        assert shipped.decode(labels) == line.text and min(labels) >= 1
        assert not b.targets[i, b.target_lengths[i] :].any()


def test_training_batches_cover_the_training_lines(shipped):
    task = HandwritingTask(tiny(shipped, 20), batch_size=6)
    batches = list(task.batches(1, [0]))
    assert sorted(len(b.lengths) for b in batches) == [2, 6, 6, 6]
    assert sorted(n for b in batches for n in b.lengths.tolist()) == sorted(len(x.features) for x in task.data.train)


# -- loss and metrics --------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["cwrnn", "lstm"])
def test_loss_is_each_lines_ctc_summed_over_the_batch(shipped, arch):
    """The reference runs each line alone, unpadded, through torch's CTC with a sum reduction."""
    data = tiny(shipped, 12)
    task = HandwritingTask(data, batch_size=5)
    model = build_network(bidir(arch), 4, data.n_classes, seeds=[3, 4])
    batch = next(iter(task.batches(2, [3, 4])))
    with torch.no_grad():
        loss = task.loss(model, batch)
        expected = torch.zeros(2, dtype=torch.float64)
        for i, (n, s) in enumerate(zip(batch.lengths.tolist(), batch.target_lengths.tolist())):
            y, _ = model(batch.x[i : i + 1, :n])
            for r in range(2):
                log_probs = y[r, 0].double().log_softmax(-1)[:, None]
                expected[r] += F.ctc_loss(log_probs, batch.targets[i : i + 1, :s], [n], [s], blank=0, reduction="sum")
    assert loss.shape == (2,)
    torch.testing.assert_close(loss.double(), expected, rtol=1e-4, atol=1e-3)


def test_cer_and_loss_of_a_split_match_each_line_decoded_alone(shipped):
    lines = sorted(shipped.val, key=lambda line: len(line.features))[:9]
    task = HandwritingTask(tiny(shipped, 20, val=lines), eval_batch=4)  # several chunks
    model = build_network(bidir("srn"), 4, task.output_size, seeds=[0, 1])
    loss, cer = task.evaluate(model, "val")
    hyps, refs, total = [[], []], [], torch.zeros(2)
    with torch.no_grad():
        for line in lines:
            b = line_batch([line], task.data)
            y, _ = model(b.x, b.lengths)
            for r in range(2):
                hyps[r] += best_path(y[r], b.lengths)
            total += task.loss(model, b)
            refs.append(task.data.encode(line.text))
    np.testing.assert_allclose(cer, [character_error_rate(h, refs) for h in hyps])
    np.testing.assert_allclose(loss, total.numpy() / len(lines), rtol=1e-5)
    with pytest.raises(ValueError, match="split must be one of val, test"):
        task.evaluate(model, "train")


# -- learning through the real loop, and the snapshot -------------------------------------------------


class Record(Callback):
    def __init__(self):
        self.snapshots, self.info = [], None

    def on_start(self, info):
        self.info = info

    def on_snapshot(self, epoch, arrays, meta):
        self.snapshots.append((epoch, arrays, meta))


@pytest.fixture(scope="module")
def shipped_offsets():
    return load_handwriting(None, "offsets")


@pytest.mark.parametrize("ink_input", ["paper", "offsets"])
def test_ctc_training_through_the_loop_learns_its_lines(shipped, shipped_offsets, ink_input):
    """Eight short lines, a 16-unit bidirectional CW-RNN, Adam (the paper's SGD is too slow for a test):
    the CER on its own training lines falls from about 1 to a fraction within seconds, from either input."""
    data = tiny(shipped if ink_input == "paper" else shipped_offsets, 8)
    task = HandwritingTask(data, batch_size=4)
    spec = ArchSpec("cwrnn", 16, periods=[1, 2, 4, 8], bidirectional=True)
    untrained = task.evaluate(build_network(spec, task.input_size, data.n_classes, [0]), "val")[1]
    result = train(task, [spec], [0], TrainConfig.preset("adam", lr=0.03, epochs=150, snapshot_every=1000))
    final = result.final["cwrnn"]
    assert untrained[0] > 0.8
    assert final["val_cer"][0] < 0.3
    # validation and test are the training lines here, so the loss per line must agree
    np.testing.assert_allclose(final["loss"], final["val_loss"], rtol=1e-4)
    np.testing.assert_allclose(final["val_cer"], final["test_cer"])


def test_snapshot_and_description_follow_the_contract(shipped):
    data = tiny(shipped, 6)
    task = HandwritingTask(data, batch_size=3, snapshot_line=2)
    rec = Record()
    specs = [bidir("cwrnn", 12), bidir("srn", 5)]
    train(task, specs, [0, 1], TrainConfig.preset("adam", epochs=2, snapshot_every=1), [rec])
    json.dumps(rec.info)
    described = rec.info["task"]
    line = data.val[2]
    assert described["snapshot_line"] == {
        "text": line.text,
        "writer": line.writer,
        "source": line.source,
        "points": len(line.features),
    }
    assert described["name"] == "handwriting" and described["alphabet"] == data.alphabet
    assert (described["train"], described["val"], described["test"], described["batch_size"]) == (6, 6, 6, 3)
    assert set(described["writers"]) == {"train", "val", "test"}
    epoch, arrays, meta = rec.snapshots[-1]
    T, C = len(line.features), data.n_classes
    np.testing.assert_array_equal(arrays["input"], line.features)
    assert arrays["ink"].dtype == np.float32 and arrays["ink"].shape == (T, 2)
    np.testing.assert_array_equal(arrays["ink"], line.ink)
    assert arrays["pen_up"].dtype == bool and arrays["pen_up"].shape == (T,) and arrays["pen_up"][-1]
    for arch, spec in zip(("cwrnn", "srn"), specs):
        assert arrays[f"hidden/{arch}"].shape == (T, 2 * spec.hidden_size)
        probs = arrays[f"probs/{arch}"]
        assert probs.shape == (T, C) and probs.dtype == np.float32
        np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
        steps, labels = arrays[f"emit_steps/{arch}"], arrays[f"emit_labels/{arch}"]
        assert steps.dtype == labels.dtype == np.int32 and steps.shape == labels.shape
        best = probs.argmax(axis=1)  # best path: an emission where the best label changes to a non-blank
        changes = [t for t in range(T) if best[t] != 0 and (t == 0 or best[t] != best[t - 1])]
        assert steps.tolist() == changes and labels.tolist() == best[changes].tolist()
    periods = specs[0].periods
    np.testing.assert_array_equal(arrays["active"], clock.active_mask(periods, T))
    backward = np.array([[(T - 1 - t) % p == 0 for t in range(T)] for p in periods])
    np.testing.assert_array_equal(arrays["active_backward"], backward)
    assert arrays["weights/cwrnn"].shape == (12, 12)
    assert not any(k in arrays for k in ("input/cwrnn", "ink/srn", "pen_up/cwrnn", "active_backward/cwrnn"))


def test_bad_task_settings_are_named(shipped):
    with pytest.raises(ValueError, match="batch_size must be a positive integer.*snapshot_line must be"):
        HandwritingTask(tiny(shipped, 4), batch_size=0, snapshot_line=9)
    with pytest.raises(ValueError, match="test has none"):
        HandwritingTask(dataclasses.replace(tiny(shipped, 4), test=[]))


# -- configuration, specs and the grid ------------------------------------------------------------------


def test_the_paper_preset_and_the_specs():
    cfg = validate({"task": "handwriting", "budget": 10_000, "periods": list(paper.HANDWRITING_PERIODS)})
    assert cfg.unipen == "shipped" and cfg.batch_size == 16
    preset = PRESETS["paper-handwriting"]
    assert (preset["optimizer"], preset["lr"], preset["momentum"], preset["patience"]) == ("sgd", 3e-4, 0.9, 50)
    tc = train_config(validate({**cfg.to_dict(), "preset": "paper-handwriting"}))
    assert tc.lr * tc.lr_scale["lstm"] == pytest.approx(3e-3) and tc.init == "paper"
    specs = {s.arch: s for s in build_specs(cfg, 4, 96)}
    assert all(s.bidirectional for s in specs.values())
    assert specs["lstm"].forget_bias == 0.0
    assert all(abs(s.parameters(4, 96) - 10_000) < 200 for s in specs.values())
    assert not any(s.bidirectional for s in build_specs(validate({"budget": 1000}), 0, 1))


def test_the_tuned_preset_and_its_input():
    cfg = validate(
        {
            "task": "handwriting",
            "preset": "tuned-handwriting",
            "ink_input": "offsets",
            "budget": 10_000,
            "periods": TUNED_DESIGNS["handwriting"]["periods"],
        }
    )
    tc = train_config(cfg)
    assert (tc.optimizer, tc.lr, tc.lr_scale, tc.init, tc.init_by_arch) == (
        "adam",
        1e-2,
        {},
        "paper",
        {"lstm": "paper-variance"},
    )
    task = build_task(cfg)
    assert task.input_size == 3 and task.describe()["ink_input"] == "offsets"
    assert all(abs(s.parameters(3, 96) - 10_000) < 300 for s in build_specs(cfg, 3, 96))


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"unipen": "/no/such/folder"}, "unipen must be .*/no/such/folder does not exist"),
        ({"unipen": ""}, "unipen must be "),
        ({"unipen": 3}, "unipen must be "),
        ({"unipen": __file__}, "is a file but not a .npz"),
        ({"batch_size": 0}, f"batch_size must be an integer from 1 to {LIMITS['batch_size']}"),
        ({"ink_input": "dxdy"}, "ink_input must be one of paper, offsets, got 'dxdy'"),
    ],
)
def test_bad_handwriting_config(raw, message):
    with pytest.raises(ConfigError, match=message):
        validate({"task": "handwriting", **raw})


def test_the_unipen_field_matters_only_to_handwriting():
    assert validate({"task": "words", "unipen": "/no/such/folder"}).unipen == "/no/such/folder"


def test_the_grid_knows_experiment_3():
    e = EXPERIMENTS["handwriting"]
    assert (e.metric, e.budgets, e.paper_table) == ("test_cer", paper.HANDWRITING_BUDGETS, paper.HANDWRITING_CER)
    grid = check_grid({"grid": "handwriting", "budgets": [10000], "seeds": 2, "epochs": 3})
    cfg = validate(grid.cell_config(10000))
    assert (cfg.task, cfg.preset, cfg.periods) == ("handwriting", "paper-handwriting", paper.HANDWRITING_PERIODS)
    assert cfg.ink_input == "paper" and "recipe" not in grid.config()  # as grids stored before recipes


def test_a_tuned_grid_trains_what_reproduce_tuned_trains(monkeypatch):
    """The Paper page's tuned recipe and `reproduce handwriting --tuned` give every cell the same settings."""
    from cwrnn import cli

    seen = []
    monkeypatch.setattr(cli.grid, "run_grid", lambda base, *a, **k: seen.append(base) or [])
    cli.main(["reproduce", "handwriting", "--sizes", "10000", "--runs", "2", "--epochs", "3", "--tuned"])
    grid = check_grid({"grid": "handwriting", "budgets": [10000], "seeds": 2, "epochs": 3, "recipe": "tuned"})
    assert grid.config()["recipe"] == "tuned" and check_grid(grid.config()) == grid  # stored and read back
    cfg = validate(grid.cell_config(10000))
    assert (cfg.preset, cfg.ink_input, cfg.periods) == ("tuned-handwriting", "offsets", [1, 2, 4, 8])
    assert {k: getattr(cfg, k) for k in ("preset", "ink_input", "periods", "seeds", "epochs")} == {
        k: getattr(seen[0], k) for k in ("preset", "ink_input", "periods", "seeds", "epochs")
    }
    tuned_settings("handwriting")["periods"].append(16)  # a caller's copy is its own
    assert TUNED_DESIGNS["handwriting"]["periods"] == [1, 2, 4, 8]


# -- the command line on a tiny file of lines ---------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    """A .npz of the shipped file's eight shortest training lines, each repeated 20 times in training so that
    every character passes the alphabet's 20-occurrence threshold; validation and test hold each once."""
    lines, splits = read_lines(SHIPPED_FILE)
    short = sorted((line for line, s in zip(lines, splits) if s == "train"), key=lambda line: len(line.ink))[:8]
    path = tmp_path_factory.mktemp("unipen") / "tiny.npz"
    save_lines(path, short * 20 + short * 2, ["train"] * 160 + ["val"] * 8 + ["test"] * 8)
    return path


def test_cli_trains_handwriting_on_a_named_file(tiny_npz, capsys):
    code = main(
        ["train", "--task", "handwriting", "--unipen", str(tiny_npz), "--epochs", "1", "--budget", "3000", "--json"]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["outcome"] == "completed"
    assert set(out["final"]) == {"cwrnn", "srn", "lstm"}
    assert set(out["final"]["cwrnn"]) == {"loss", "val_loss", "val_cer", "test_cer"}
    assert build_task(validate({"task": "handwriting", "unipen": str(tiny_npz)})).describe()["train"] == 160


@pytest.mark.parametrize(
    "args, message",
    [
        (["--unipen", "/no/such/folder"], "/no/such/folder does not exist"),
        (["--batch-size", "0"], "batch_size must be an integer"),
        (["--ink-input", "xy"], "ink_input must be one of paper, offsets, got 'xy'"),
        (["--budget", "1000"], "a budget of 1000 parameters is too small"),
    ],
)
def test_cli_rejects_bad_handwriting_arguments(args, message, capsys):
    assert main(["train", "--task", "handwriting", "--epochs", "1", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_reproduce_handwriting_prints_the_table(tiny_npz, capsys):
    argv = ["reproduce", "handwriting", "--unipen", str(tiny_npz), "--sizes", "10000", "--epochs", "1"]
    assert main([*argv, "--runs", "1", "--archs", "cwrnn", "--workers", "1"]) == 0
    table = capsys.readouterr().out
    assert "test CER %" in table and "67.2" in table  # the paper's CW-RNN at 10k beside ours
