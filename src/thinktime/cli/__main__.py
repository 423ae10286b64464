"""`python -m thinktime.cli …`: the `thinktime` command."""

from thinktime.cli import main

main()
