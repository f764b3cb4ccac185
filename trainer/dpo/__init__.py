"""Direct Preference Optimization: a LoRA-tuned policy trained straight on preference pairs."""
