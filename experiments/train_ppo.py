"""Train PPO on the market-making env and score it against AS and the CJP optimum (same as `mmenv train`)."""

from mmenv.studies.train import main

if __name__ == "__main__":
    raise SystemExit(main())
