"""Train PPO and score it against AS, the continuous-time CJP policy and the exact optimum (same as `mmenv train`)."""

from mmenv.studies.train import main

if __name__ == "__main__":
    raise SystemExit(main())
