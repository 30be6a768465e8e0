"""Pages that belong to no single app. Read-only."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from councils.models import Council
from elections.models import Election
from results.models import ResultStatus

# A ballot "has a result" once figures are accepted and stand: provisional (keyed once) or
# verified. Disputed figures are held for a reviewer and retracted ones are withdrawn.
RESULT_STATUSES_SHOWN = (ResultStatus.PROVISIONAL, ResultStatus.VERIFIED)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Councils that have elections, each election with its ballots and how many have results.

    Two queries whatever the number of councils: the councils, then their elections with
    the counts annotated.
    """
    elections = Election.objects.annotate(
        ballot_count=Count("ballots", distinct=True),
        ballots_with_results=Count(
            "ballots",
            filter=Q(ballots__result__status__in=RESULT_STATUSES_SHOWN),
            distinct=True,
        ),
    ).order_by("-date", "election_id")
    councils = (
        Council.objects.filter(elections__isnull=False)
        .distinct()
        .order_by("name")
        .prefetch_related(Prefetch("elections", queryset=elections, to_attr="election_list"))
    )
    return render(request, "home.html", {"councils": councils})
