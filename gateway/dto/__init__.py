"""Camunda's wire DTOs, one module per REST resource (camelCase on the wire).

Request DTOs are pydantic models read the way Camunda's Jackson reads them; the GET query
models are read from query strings by ``redtask.gateway.query``.
"""
