"""Hypothesis profiles of the boundary suite: ``ci`` (default, bounded) and ``long`` (``--hypothesis-profile=long``)."""

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=12, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=300, deadline=None)
settings.load_profile("ci")
