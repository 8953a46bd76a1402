"""The redtask worker SDK."""
