"""`python -m app` runs the `rlhf` command."""

from app.cli import main

raise SystemExit(main())
