"""The metrics' children, found once per set of label values."""

from __future__ import annotations

from prometheus_client import REGISTRY

from engactivity.telemetry import HTTP_LATENCY, HTTP_REQUESTS, labelled


def test_labelled_is_the_child_labels_gives_and_counts_in_it() -> None:
    child = labelled(HTTP_REQUESTS, "/test/labelled", "GET", "200")
    assert child is HTTP_REQUESTS.labels("/test/labelled", "GET", "200")
    assert labelled(HTTP_REQUESTS, "/test/labelled", "GET", "200") is child
    assert labelled(HTTP_REQUESTS, "/test/labelled", "GET", "404") is not child
    assert labelled(HTTP_LATENCY, "/test/labelled", "200") is not child
    labels = {"endpoint": "/test/labelled", "method": "GET", "status": "200"}
    before = REGISTRY.get_sample_value("engactivity_http_requests_total", labels) or 0.0
    labelled(HTTP_REQUESTS, "/test/labelled", "GET", "200").inc()
    assert REGISTRY.get_sample_value("engactivity_http_requests_total", labels) == before + 1
