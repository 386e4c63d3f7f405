"""PPO against AS and GLFT tuned on training paths, on markets without a closed form (same as `mmenv rl-study`)."""

from mmenv.cli import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("rl-study"))
