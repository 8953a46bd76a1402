"""How a worker reaches the broker: over Camunda's REST API or straight to Redis."""

from redtask.worker.transport.base import Subscription, Transport

__all__ = ["Subscription", "Transport"]
