"""The ``redtask`` command line: ``main`` parses the subcommand; each subcommand's module
imports what it needs when it runs (the worker commands never load the broker or gateway)."""
