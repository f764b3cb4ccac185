"""Quality control of human feedback: how far each annotator's labels can be trusted.

`reliability` computes the figures from a project's labels (gold accuracy, agreement with
the others, competence from a latent-truth model, behaviour signals), `rules` turns them
into a status with reasons a person can read, `recompute` runs both against the database
and stores the result, which the annotators endpoint, the CLI, exports and the reward job
read.
"""
