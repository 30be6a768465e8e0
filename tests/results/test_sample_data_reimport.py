"""Democracy Club's candidate list and the council's published results describe the same
Trafford 2026 ballots with different spellings and descriptions; importing both, in the
order of election night, and then again, must change nothing the second time."""

from io import StringIO

import pytest
from django.core.management import call_command

from elections.models import Candidacy
from results.models import Submission


def _run(command: str, path) -> str:
    out = StringIO()
    try:
        call_command(command, str(path), stdout=out, stderr=StringIO(), verbosity=0)
    except Exception as exc:  # the summary is still in `out`; show it with the error
        raise AssertionError(out.getvalue()) from exc
    return out.getvalue()


def _changed_rows(summary: str) -> list[str]:
    rows = []
    for line in summary.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5 and parts[-4:-2] != ["0", "0"]:
            rows.append(line)
    return rows


@pytest.mark.django_db
def test_candidates_then_results_reimport_unchanged(sample_data):
    _run("import_boundaries", sample_data / "boundaries/E08000009-trafford.wd-may2023.geojson")
    _run("import_parties", sample_data / "parties/ec_register_gb_2021-11_danielgriffin48.csv")
    candidates = sample_data / "candidates/local.trafford.2026-05-07.json"
    results = sample_data / "results/trafford_lga_2023_onwards.csv"
    _run("import_candidates", candidates)
    _run("import_results", results)
    stored = sorted(
        Candidacy.objects.values_list("pk", "person_name", "person_id", "party_id", "description")
    )
    submissions = Submission.objects.count()

    assert _changed_rows(_run("import_candidates", candidates)) == []
    assert _changed_rows(_run("import_results", results)) == []
    assert (
        sorted(Candidacy.objects.values_list("pk", "person_name", "person_id", "party_id", "description"))
        == stored
    )
    assert Submission.objects.count() == submissions
    # The council's "Aiden" is Democracy Club's "Aidan": one candidacy, with its DC person id.
    williams = Candidacy.objects.get(
        ballot__ballot_paper_id="local.trafford.bucklow-st-martins.2026-05-07",
        person_name__iendswith="williams",
    )
    assert williams.person_id
