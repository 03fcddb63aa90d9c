"""Run configurations: every problem reported at once, each saying what is allowed; the CLI."""

import json

import pytest

from cwrnn.cli import main
from cwrnn.config import ConfigError, validate
from cwrnn.experiment import build_specs, build_task, train_config


def test_defaults_are_the_paper_experiment_1():
    cfg = validate({})
    assert cfg.periods == [1, 2, 4, 8, 16, 32, 64, 128, 256] and cfg.budget == 1000
    specs = build_specs(cfg, 0, 1)
    assert [(s.arch, s.hidden_size) for s in specs] == [("cwrnn", 40), ("srn", 31), ("lstm", 15)]
    tc = train_config(cfg)
    assert (tc.lr, tc.momentum, tc.lr_scale) == (3e-4, 0.95, {"lstm": 0.1})


BAD = [
    ({"periods": [1, 0, 4]}, "periods must be integers from 1"),
    ({"periods": [4, 2]}, "sorted from fastest to slowest"),
    ({"periods": [1, 1]}, "distinct"),
    ({"periods": list(range(1, 30))}, "at most 16 modules"),
    ({"periods": "1,2"}, "non-empty list"),
    ({"module_sizes": [2, 2], "periods": [1, 2, 4]}, "module_sizes has 2 entries"),
    ({"module_sizes": [0, 2], "periods": [1, 2]}, "positive integers"),
    ({"budget": 5}, "budget must be an integer from 10"),
    ({"epochs": 10**9}, "epochs must be an integer from 1 to 20000"),
    ({"seeds": 0}, "seeds must be an integer from 1 to 100"),
    ({"lr": float("inf")}, "lr must be a finite number"),
    ({"lr": "fast"}, "lr must be a finite number"),
    ({"momentum": 1.5}, "momentum must be a number in [0, 1)"),
    ({"baselines": ["tcn", "srn"]}, "baselines must be a list drawn from srn, lstm, gru"),
    ({"clips": [9]}, "clips must be a non-empty list"),
    ({"source": "radio"}, "source must be one of clips, tone, wav"),
    ({"source": "wav"}, "needs wav_path"),
    ({"task": "chess"}, "task must be one of generation, words"),
    ({"device": "tpu"}, "device must be cpu, cuda"),
    ({"colour": "red"}, "unknown field 'colour'"),
    ({"epochs": True}, "epochs must be an integer"),
    ({"steps": 400}, "the shipped clips are 320 samples long"),
    ({"clip_norm": 2e6}, "clip_norm must be a finite number in (0, 1e+06]"),
]


@pytest.mark.parametrize("raw,message", BAD)
def test_bad_configs_have_clear_messages(raw, message):
    with pytest.raises(ConfigError) as e:
        validate(raw)
    assert any(message in p for p in e.value.problems), e.value.problems


def test_all_problems_at_once():
    with pytest.raises(ConfigError) as e:
        validate({"periods": [2, 1], "budget": -1, "lr": -1, "seeds": 1000})
    assert len(e.value.problems) == 4


def test_budget_too_small_and_too_many_units():
    with pytest.raises(ConfigError, match="too small: the smallest cwrnn"):
        build_specs(validate({"budget": 10, "periods": list(range(1, 17))}), 0, 1)
    with pytest.raises(ConfigError, match="at most 1024 hidden units"):
        validate({"module_sizes": [600, 600], "periods": [1, 2]})


def test_activation_memory_is_capped():
    cfg = validate({"source": "tone", "budget": 200_000, "seeds": 100, "steps": 8192, "periods": list(range(1, 14))})
    with pytest.raises(ConfigError, match="GiB of activations"):
        build_specs(cfg, 0, 1)


def test_explicit_module_sizes_set_the_baselines_budget():
    specs = build_specs(validate({"module_sizes": [3, 3], "periods": [1, 2], "budget": 1000}), 0, 1)
    cw = specs[0].parameters(0, 1)
    assert all(abs(s.parameters(0, 1) - cw) <= 0.5 * cw for s in specs[1:]), [s.parameters(0, 1) for s in specs]


def test_config_errors_survive_pickling():
    import pickle

    e = pickle.loads(pickle.dumps(ConfigError(["a is wrong", "b too"])))
    assert e.problems == ["a is wrong", "b too"] and "a is wrong" in str(e)


def test_bad_wav_becomes_a_config_error(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav at all")
    with pytest.raises(ConfigError, match="bad.wav|WAV"):
        build_task(validate({"source": "wav", "wav_path": str(bad)}))


def test_cli_train_prints_a_result(capsys):
    code = main(["train", "--clips", "0", "--budget", "100", "--epochs", "3", "--seeds", "2", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["outcome"] == "completed" and out["epochs"] == 3
    assert set(out["final"]) == {"cwrnn", "srn", "lstm"} and "nmse" in out["final"]["cwrnn"]


def test_cli_runs_commands_need_an_existing_store(tmp_path, capsys):
    with pytest.raises(SystemExit, match="no run store at"):
        main(["runs", "list", "--home", str(tmp_path / "typo")])
    assert not (tmp_path / "typo").exists()


def test_cli_background_without_wait_only_queues(tmp_path, capsys):
    code = main(["train", "--background", "--home", str(tmp_path), "--epochs", "2", "--budget", "100", "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["status"] == "queued"
    main(["runs", "list", "--home", str(tmp_path), "--json"])
    assert [r["status"] for r in json.loads(capsys.readouterr().out)] == ["queued"]


def test_cli_runs_list_shows_a_grids_budgets(tmp_path, capsys):
    from cwrnn.runs.store import RunStore

    store = RunStore(tmp_path)
    train = store.create_run("generation", {"budget": 250}, [0])
    grid = store.create_run(
        "generation-grid", {"grid": "generation", "budgets": [100, 1000], "seeds": 1, "epochs": 5}, [0]
    )
    main(["runs", "list", "--home", str(tmp_path)])
    lines = {int(line.split()[0]): line for line in capsys.readouterr().out.splitlines()}
    assert "budget 250 " in lines[train] and "budget 100,1000 " in lines[grid] and "?" not in lines[grid]


def test_cli_rejects_bad_arguments(capsys):
    code = main(["train", "--periods", "2", "1", "--budget", "5"])
    err = capsys.readouterr().err
    assert code == 2 and "sorted from fastest to slowest" in err and "budget" in err


def test_cli_reproduce_trains_the_chosen_architectures(monkeypatch, capsys):
    from cwrnn.grid import Cell

    calls = {}

    def fake_grid(base, budgets, archs, **kwargs):
        calls.update(budgets=list(budgets), archs=list(archs), seeds=base.seeds)
        return [Cell(a, b, 10, 100, [0.5, 0.7], None, "completed", 1.0) for b in budgets for a in archs]

    monkeypatch.setattr("cwrnn.grid.run_grid", fake_grid)
    assert main(["reproduce", "generation", "--sizes", "100", "--runs", "2"]) == 0
    assert calls == {"budgets": [100], "archs": ["cwrnn", "lstm", "srn"], "seeds": 2}  # the paper's
    assert main(["reproduce", "generation", "--sizes", "100", "--archs", "cwrnn", "gru"]) == 0
    assert calls["archs"] == ["cwrnn", "gru"] and "gru" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["reproduce", "generation", "--archs", "tcn"])
    assert "invalid choice: 'tcn'" in capsys.readouterr().err
