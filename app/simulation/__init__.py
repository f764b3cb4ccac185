"""Simulated annotators that label through the real HTTP API (`rlhf simulate`).

`spec` reads the raters' description, `truth` says where the right answer comes from (a
labelled file, or a reward model version as judge, trainer/judging.py, which the CLI loads:
one small interface), `raters` decides what each kind of rater answers, and `runner` drives
them against a running server.
"""
