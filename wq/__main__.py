"""`python -m wq` runs the command line."""

from wq.cli.main import main

main()
