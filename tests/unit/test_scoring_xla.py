"""XLA score, its breach, and the sentiment of feedback comments."""

import pytest
from pydantic import ValidationError

from impactline.core.scoring import (
    ServiceProfile,
    XlaSignals,
    XlaWeights,
    comment_sentiment,
    feedback_sentiment,
    mean_csat,
    xla_score,
)

LEDGER = ServiceProfile(
    id="financial-close",
    tier=1,
    slo_target=0.999,
    latency_target=0.95,
    xla_target=80,
    impact_budget_minutes=1000,
)


def test_every_component_and_the_weighted_mean():
    signals = XlaSignals(
        availability=0.9995,  # consumed 0.0005 / 0.001 = 0.5 of budget -> 100 x (1 - 0.25) = 75
        latency=0.95,  # exactly at target: consumed 1.0          -> 100 x (1 - 0.5)  = 50
        impact_minutes=1500,  # 1.5 budgets                       -> 100 x (1 - 0.75) = 25
        csat=4.0,  # (4 - 1) / 4 x 100                                                = 75
        sentiment=0.2,  # (0.2 + 1) / 2 x 100                                          = 60
    )
    score = xla_score(LEDGER, signals)
    assert score.components == pytest.approx(
        {"availability": 75, "latency": 50, "impact": 25, "csat": 75, "sentiment": 60}
    )
    # 0.3 x 75 + 0.1 x 50 + 0.3 x 25 + 0.15 x 75 + 0.15 x 60 = 22.5 + 5 + 7.5 + 11.25 + 9 = 55.25
    assert score.score == pytest.approx(55.25)
    assert score.breached


def test_missing_signals_renormalise_the_weights():
    signals = XlaSignals(availability=0.9995, impact_minutes=1500, csat=4.0, sentiment=0.2)
    score = xla_score(LEDGER, signals)
    # Latency missing: weights 0.3, 0.3, 0.15, 0.15 of 0.9 -> 1/3, 1/3, 1/6, 1/6.
    # 75/3 + 25/3 + 75/6 + 60/6 = 25 + 8.333 + 12.5 + 10 = 55.833
    assert score.weights == pytest.approx(
        {"availability": 1 / 3, "impact": 1 / 3, "csat": 1 / 6, "sentiment": 1 / 6}
    )
    assert score.score == pytest.approx(55.8333, abs=1e-3)


def test_quantitative_signals_alone_still_score():
    score = xla_score(LEDGER, XlaSignals(availability=1.0, impact_minutes=0))
    assert score.score == pytest.approx(100.0)
    assert not score.breached
    assert score.breach() is None


def test_breach_names_the_shortfall_and_the_weakest_component():
    score = xla_score(LEDGER, XlaSignals(availability=0.9995, impact_minutes=1500, csat=4.0))
    # weights 0.3, 0.3, 0.15 of 0.75: 75 x 0.4 + 25 x 0.4 + 75 x 0.2 = 30 + 10 + 15 = 55
    breach = score.breach()
    assert breach is not None
    assert breach.score == pytest.approx(55.0)
    assert breach.target == 80
    assert breach.shortfall == pytest.approx(25.0)
    assert breach.weakest == "impact"


def test_budget_components_bottom_out_at_twice_the_budget():
    score = xla_score(LEDGER, XlaSignals(availability=0.99, impact_minutes=5000))
    assert score.components == {"availability": 0.0, "impact": 0.0}
    assert score.score == 0.0


def test_weights_are_configurable_and_zero_drops_a_component():
    weights = XlaWeights(availability=1, latency=0, impact=0, csat=1, sentiment=0)
    score = xla_score(LEDGER, XlaSignals(availability=0.9995, csat=2.0, impact_minutes=0), weights)
    # (75 + 25) / 2 = 50; impact is weighted 0 and left out.
    assert score.score == pytest.approx(50.0)
    assert "impact" not in score.components


def test_no_usable_signal_is_an_error():
    with pytest.raises(ValueError, match="no weighted XLA signal"):
        xla_score(LEDGER, XlaSignals())
    with pytest.raises(ValidationError):
        XlaWeights(availability=0, latency=0, impact=0, csat=0, sentiment=0)


@pytest.mark.parametrize(
    ("signals", "message"),
    [
        (XlaSignals(availability=1.2), "availability is a ratio"),
        (XlaSignals(csat=6), "between 1 and 5"),
        (XlaSignals(sentiment=-2), "between -1 and 1"),
        (XlaSignals(impact_minutes=-5), "cannot be negative"),
    ],
)
def test_out_of_range_signals_are_refused(signals, message):
    with pytest.raises(ValueError, match=message):
        xla_score(LEDGER, signals)


def test_latency_signal_needs_a_latency_target():
    plain = ServiceProfile(id="intranet")
    with pytest.raises(ValueError, match="no latency_target"):
        xla_score(plain, XlaSignals(latency=0.9))


def test_mean_csat():
    assert mean_csat([5, 4, 3]) == pytest.approx(4.0)
    assert mean_csat([]) is None
    with pytest.raises(ValueError, match="between 1 and 5"):
        mean_csat([0])


def test_sentiment_of_feedback_comments():
    angry = comment_sentiment("The ledger is terribly slow and I missed the close deadline")
    happy = comment_sentiment("Great, the close went smoothly and fast, thank you!")
    assert angry < -0.3
    assert happy > 0.5
    assert feedback_sentiment(["", "   "]) is None
    mixed = feedback_sentiment(
        ["The ledger is terribly slow and I missed the close deadline", "Great, thank you!"]
    )
    assert angry < mixed < happy


def test_feedback_sentiment_feeds_the_xla_score():
    sentiment = feedback_sentiment(
        ["Awful. Reports keep failing.", "Useless today, very frustrating"]
    )
    assert sentiment is not None and sentiment < 0
    score = xla_score(LEDGER, XlaSignals(availability=1.0, sentiment=sentiment))
    assert score.components["sentiment"] < 50
    assert score.score < 100
