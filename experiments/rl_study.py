"""PPO against AS and GLFT tuned on training paths, on markets without a closed form (same as `mmenv rl-study`)."""

from mmenv.studies.rl_study import main

if __name__ == "__main__":
    raise SystemExit(main())
