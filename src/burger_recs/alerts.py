"""Alerts: a short message to a Slack-compatible webhook when a run failed or was gated.

The webhook URL is a secret: it comes from ``ALERT_WEBHOOK_URL`` in the environment (on a
cluster, the optional Secret ``burger-recs-alerts``), never from a parameter, and it is never
logged, recorded or put into the alert. A webhook that is down never fails or hangs the run:
a few short attempts, then a warning in the log.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass

from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from burger_recs.contract import without_row_contents

log = logging.getLogger(__name__)

WEBHOOK_ENV = "ALERT_WEBHOOK_URL"
# The Kubeflow UI's address, for a link to the run (optional; on a cluster from the same Secret).
UI_ENV = "KUBEFLOW_UI_URL"
ATTEMPTS = 3
TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Alert:
    """What a person needs to know about a run that did not publish as it should.

    Attributes:
        run_id: the run's id.
        run_date: the day the run was for.
        status: failed or gated; from the watchdog (burger_recs.deploy.watch), missing or
            unchecked.
        step: the step that failed, if one did.
        message: the failure's message or the gate's reason.
        code_version: the code that ran.
        link: the run in the Kubeflow UI, where known.
        served_by: who served the day despite it
            (:func:`burger_recs.runs.served_label`), if anyone did.
    """

    run_id: str
    run_date: str
    status: str
    step: str | None
    message: str
    code_version: str
    link: str | None = None
    served_by: str | None = None

    def payload(self) -> dict:
        """Return the JSON body: Slack's ``text``, then the fields as an attachment.

        The message never carries row contents of the data (a violation's example rows):
        counts and column names only (:func:`burger_recs.contract.without_row_contents`).
        """
        what = f"step {self.step} failed" if self.step else self.status
        if self.served_by:
            what += f", served by {self.served_by}"
        text = f"burger-recs {self.run_date}: {what} (run {self.run_id})"
        if self.link:
            text += f" <{self.link}|open in Kubeflow>"
        fields = {k: v for k, v in asdict(self).items() if v is not None}
        fields["message"] = without_row_contents(self.message)
        return {
            "text": text,
            "attachments": [
                {
                    "color": "warning" if self.status == "gated" else "danger",
                    "fields": [
                        {"title": name, "value": str(value), "short": name != "message"}
                        for name, value in fields.items()
                    ],
                }
            ],
        }


class _Retryable(Exception):
    """A delivery attempt that may succeed later (no answer, or a 5xx or 429 answer)."""


def run_link(orchestrator_run_id: str) -> str | None:
    """Return the run's page in the Kubeflow UI when ``KUBEFLOW_UI_URL`` is set."""
    ui = os.environ.get(UI_ENV, "").rstrip("/")
    return f"{ui}/#/runs/details/{orchestrator_run_id}" if ui and orchestrator_run_id else None


def send(alert: Alert, url: str | None = None) -> bool:
    """Post the alert to the webhook (default: ``ALERT_WEBHOOK_URL``); never raises.

    At most :data:`ATTEMPTS` attempts of :data:`TIMEOUT_SECONDS` each, with a short backoff.

    Returns:
        Whether the webhook took it; False also when no webhook is configured.
    """
    url = url or os.environ.get(WEBHOOK_ENV, "")
    if not url:
        return False
    body = json.dumps(alert.payload()).encode()

    @retry(
        retry=retry_if_exception_type(_Retryable),
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_exponential(multiplier=0.5, max=2),
        reraise=True,
    )
    def post() -> None:
        request = urllib.request.Request(  # noqa: S310 - the operator's own webhook
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):  # noqa: S310
                return
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise _Retryable(f"HTTP {exc.code}") from None
            raise _Refused(f"HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            # The reason only, never the exception's text: it may quote the URL.
            reason = getattr(exc, "reason", exc)
            raise _Retryable(type(reason).__name__) from None

    try:
        post()
    except (_Retryable, _Refused) as exc:
        log.warning("alert for run %s not delivered: %s", alert.run_id, exc)
        return False
    log.info("alert for run %s delivered (%s)", alert.run_id, alert.status)
    return True


class _Refused(Exception):
    """The webhook refused the alert (a 4xx answer): another attempt would not help."""
