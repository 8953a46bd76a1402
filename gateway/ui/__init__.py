"""The operator dashboard: server-rendered pages under ``/redtask/ui`` (topics, tasks,
incidents, processes, workers) with a little plain JavaScript for live refresh.

Every page is behind the REST API's authentication (the ``/redtask`` prefix); every text that
comes from Redis or a client is HTML-escaped by the templates (Jinja2 autoescape); the actions
(retry, cancel) are POST forms refused unless they come from the dashboard's own origin
(``csrf``). Templates, the stylesheet and the script ship inside the package: no CDN.
"""

from redtask.gateway.ui.routes import install

__all__ = ["install"]
