"""`python -m alertlens.cli`."""

from alertlens.cli.main import main

main()
