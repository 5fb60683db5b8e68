"""ops: what an operator and a load balancer ask of a running portal: /healthz and /metrics.

It sits at the top of the dependency chain (it reads sites, push and live; nobody imports it) and
writes one thing only: when each Celery beat task last ran (``ScheduledTaskRun``), because beat
itself leaves no trace another host could read.
"""
