"""Simulated annotators that label through the real HTTP API (`rlhf simulate`).

`spec` reads the raters' description, `truth` says where the right answer comes from (a
labelled file today, a reward model later: one small interface), `raters` decides what
each kind of rater answers, and `runner` drives them against a running server.
"""
