"""``--help`` of every command: defaults shown, the output directory under out/<command>/, help on every option."""

import argparse

import pytest

from mmenv.cli import COMMANDS, build_parser


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_option_has_help_and_the_help_shows_defaults(name, capsys):
    sub = _subparsers()[name]
    for action in sub._actions:
        assert action.help, f"mmenv {name} {action.option_strings} has no help text"
    with pytest.raises(SystemExit) as e:
        sub.parse_args(["--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    if "--out" in sub._option_string_actions:
        assert f"(default:out/{name})" in "".join(text.split())  # argparse may wrap at the hyphen
    if "--seed" in sub._option_string_actions:
        assert any(x in text for x in ("(default: 0)", "(0)", "(default 0)"))


def test_backtest_and_report_share_one_set_of_defaults():
    from mmenv.studies.backtest import BACKTEST_DEFAULTS

    sub = _subparsers()["backtest"]
    args = sub.parse_args([])
    assert args.order_size == BACKTEST_DEFAULTS["order_size"] and args.q_max == BACKTEST_DEFAULTS["q_max"]
    assert args.naive_depth == BACKTEST_DEFAULTS["naive_depth"] and args.gamma is None


def test_cleanrl_help_does_not_start_a_run(capsys):
    pytest.importorskip("torch")
    from agents import cleanrl_ppo

    with pytest.raises(SystemExit) as e:
        cleanrl_ppo.main(["--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--total-timesteps" in out and "(default: 200000)" in out and "mean episode reward" not in out
    args = cleanrl_ppo.parse_args(["--num-envs", "4", "--no-anneal-lr", "--env-kwargs", '{"sigma": 1.0}'])
    assert args.num_envs == 4 and args.anneal_lr is False and args.env_kwargs == {"sigma": 1.0}


def test_a_command_builds_only_its_own_parser_and_the_same_options():
    def choices(parser):
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return action.choices

    one = choices(build_parser("compare"))
    assert list(one) == ["compare"]
    full = _subparsers()["compare"]
    assert sorted(one["compare"]._option_string_actions) == sorted(full._option_string_actions)


def test_start_up_in_a_fresh_process_imports_one_study_and_resumes_the_collector():
    import subprocess
    import sys

    code = (
        "import gc, sys; from mmenv.cli import main; rc = main(['replicate', '--paths', '1']); "
        "print(rc, gc.isenabled(), sorted(m for m in sys.modules if m.startswith('mmenv.studies.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    rc, enabled, studies = out.split(" ", 2)
    assert rc == "2" and enabled == "True"  # --paths 1 is refused after the parse; the collector runs again
    assert "mmenv.studies.replication" in studies and "mmenv.studies.compare" not in studies
