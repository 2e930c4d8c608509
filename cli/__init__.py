"""The `dualtrack` command line."""
