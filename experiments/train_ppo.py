"""Train PPO and score it against AS, the continuous-time CJP policy and the exact optimum (same as `mmenv train`)."""

from mmenv.cli import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("train"))
