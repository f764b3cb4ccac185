"""The glue between the jobs queue and the training code: one module per job kind.

A handler reads what it needs from the database in a short transaction, trains with no
transaction open, and registers its result and completes the job in one final transaction.
"""
