"""`python -m genlab ...`: the command line (see genlab/cli.py)."""
from genlab.cli import main

raise SystemExit(main())
