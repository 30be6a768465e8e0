"""Key results through the write path, as count correspondents would, for the fault tests.

``python tests/faults/submitter.py BALLOT_ID... [--threads N]`` keys one result per ballot
through ``results.services.submit_result``, from ``N`` correspondents at once (threads, each
with its own database connection), and prints one JSON line per submission: the ballot, the
seconds the call took, whether it was stored, and the error if it raised. The environment
names the database and the broker (DATABASE_URL, REDIS_URL).
"""

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from config.celery_app import app  # noqa: E402
from elections.models import Ballot  # noqa: E402
from results.figures import CandidateFigures, ResultFigures  # noqa: E402
from results.services import submit_result  # noqa: E402

_print = threading.Lock()


def key(ballot_id: int) -> None:
    try:
        ballot = Ballot.objects.get(pk=ballot_id)
        ids = list(ballot.candidacies.order_by("id").values_list("id", flat=True))
        votes = [600 + ballot_id % 300, 400]
        figures = ResultFigures(
            candidates=tuple(CandidateFigures(c, v) for c, v in zip(ids, votes, strict=True)),
            ballot_papers_counted=sum(votes) + 5,
            rejected_total=5,
            electorate=3000,
        )
        began = time.monotonic()
        line = {"ballot": ballot_id}
        try:
            outcome = submit_result(
                ballot=ballot,
                figures=figures,
                source="fault test count sheet",
                channel="form",
                client_token=f"fault-{ballot_id}",
            )
            line["stored"] = outcome.outcome == "accepted"
        except Exception as exc:  # noqa: BLE001 - the test counts every unanswered request
            line.update(stored=False, error=repr(exc))
        line["seconds"] = round(time.monotonic() - began, 4)
        with _print:
            print(json.dumps(line), flush=True)
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ballots", nargs="+", type=int)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    # Load the broker client before timing (about 1 s once per process; no network).
    app.loader.import_default_modules()
    app.connection_for_write().transport  # noqa: B018 - imported and resolved on access
    app.amqp.producer_pool  # noqa: B018
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(key, args.ballots))


if __name__ == "__main__":
    main()
