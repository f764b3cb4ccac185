"""The trainer worker and the training code. Never imports FastAPI."""
