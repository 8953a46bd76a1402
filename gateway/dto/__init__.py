"""Camunda's wire DTOs, one module per REST resource (camelCase on the wire).

Request DTOs are pydantic models read the way Camunda's Jackson reads them; a query DTO is also
read from a GET query string (by ``redtask.gateway.query``) and turns itself into the broker's
query (``to_query``). Responses are rendered by ``redtask.gateway.convert``.
"""
