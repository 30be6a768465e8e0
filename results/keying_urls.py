"""URLs of the keying and review pages (namespace ``keying``), included by config/urls.py.

Ballot ids contain dots (``local.trafford.altrincham.2023-05-04``): ``str`` matches them.
"""

from django.urls import path

from . import keying as views

app_name = "keying"

urlpatterns = [
    path("", views.home, name="home"),
    path("ballot/<str:ballot_paper_id>/", views.ballot_keying, name="ballot"),
    path("ballot/<str:ballot_paper_id>/correct/", views.ballot_correct, name="correct"),
    path("ballot/<str:ballot_paper_id>/history/", views.ballot_history, name="history"),
    path("ballot/<str:ballot_paper_id>/count-state/", views.ballot_count_state, name="count_state"),
    path("review/", views.review_queue, name="review"),
    path("review/<str:ballot_paper_id>/", views.review_ballot, name="review_ballot"),
    path("review/<str:ballot_paper_id>/approve/", views.review_approve, name="review_approve"),
    path("review/<str:ballot_paper_id>/retract/", views.review_retract, name="review_retract"),
]
