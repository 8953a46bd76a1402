"""Runnable examples: ``redtask worker examples.order_worker:worker`` (see the README)."""
