"""RLHF Studio: human preferences in, better language models out."""
