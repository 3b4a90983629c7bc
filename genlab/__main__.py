"""`python -m genlab ...`: the command line (see genlab/cli/)."""
from genlab.cli import main

raise SystemExit(main())
