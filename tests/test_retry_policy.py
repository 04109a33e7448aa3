"""The retry policy, with plain values: attempts are for what the file itself causes."""

from __future__ import annotations

import pytest

from dropscribe.errors import (
    BadInput,
    Permanent,
    RateLimited,
    Retryable,
    ServerDown,
    ServerTrouble,
)
from dropscribe.jobs.retry_policy import (
    DOWN_CHECK_MAX_SECONDS,
    Fail,
    JobHistory,
    Pause,
    Retry,
    RetryRules,
    after,
    backoff_delay,
    carry_out,
    decide,
    give_back,
)

RULES = RetryRules(
    max_attempts=3, base_seconds=2.0, max_seconds=300.0, transient_budget_seconds=3600
)
NOW = 1000.0


@pytest.mark.parametrize("error", [BadInput("empty"), Permanent("refused (400)")])
def test_what_the_file_causes_for_good_fails_at_once(error: Exception) -> None:
    assert decide(JobHistory(attempts=1), error, NOW, RULES) == Fail(gave_up=False)  # type: ignore[arg-type]


def test_a_429_waits_as_long_as_the_server_asks_and_spends_no_attempt() -> None:
    decision = decide(JobHistory(attempts=3), RateLimited("429", retry_after=42.0), NOW, RULES)
    assert decision == Retry(at=NOW + 42.0, spends_attempt=False)


def test_a_429_never_fails_a_file_however_often_it_comes() -> None:
    history = JobHistory(attempts=1)
    for _ in range(50):
        decision = decide(history, RateLimited("429"), NOW, RULES)
        assert isinstance(decision, Retry) and not decision.spends_attempt
        history = after(history, RateLimited("429"), decision, NOW)
        history = JobHistory(history.attempts + 1, history.troubled_since, history.waits)
    assert history.attempts == 1


def test_server_trouble_is_ridden_out_within_the_budget_without_spending_attempts() -> None:
    history = JobHistory(attempts=3, troubled_since=NOW - 3599.0)
    decision = decide(history, ServerTrouble("500"), NOW, RULES)
    assert isinstance(decision, Retry) and decision.spends_attempt is False


def test_server_trouble_past_the_budget_counts_against_the_file() -> None:
    history = JobHistory(attempts=2, troubled_since=NOW - 3600.0)
    decision = decide(history, ServerTrouble("reset"), NOW, RULES)
    assert isinstance(decision, Retry) and decision.spends_attempt is True
    last = JobHistory(attempts=3, troubled_since=NOW - 3600.0)
    assert decide(last, ServerTrouble("reset"), NOW, RULES) == Fail(gave_up=True)


def test_a_zero_budget_counts_server_trouble_at_once() -> None:
    rules = RetryRules(3, 2.0, 300.0, transient_budget_seconds=0)
    decision = decide(JobHistory(attempts=1), ServerTrouble("503"), NOW, rules)
    assert isinstance(decision, Retry) and decision.spends_attempt is True


def test_the_trouble_clock_starts_at_the_first_trouble() -> None:
    history = JobHistory(attempts=1)
    decision = decide(history, ServerTrouble("502"), NOW, RULES)
    assert isinstance(decision, Retry)
    assert after(history, ServerTrouble("502"), decision, NOW).troubled_since == NOW


def test_other_transient_errors_spend_attempts_then_give_up() -> None:
    first = decide(JobHistory(attempts=1), Retryable("malformed answer"), NOW, RULES, jitter=0)
    assert first == Retry(at=NOW + 1.0, spends_attempt=True)  # half of base * 2**0
    assert decide(JobHistory(attempts=3), Retryable("crash"), NOW, RULES) == Fail(gave_up=True)


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    decision = decide(JobHistory(attempts=1), Retryable("x", retry_after=90.0), NOW, RULES)
    assert decision == Retry(at=NOW + 90.0, spends_attempt=True)


def test_an_unreachable_server_pauses_its_backend_checking_at_least_once_a_minute() -> None:
    assert decide(JobHistory(1, backend_downs=0), ServerDown("refused"), NOW, RULES) == Pause(
        NOW + 2.0
    )
    long_down = decide(JobHistory(1, backend_downs=20), ServerDown("refused"), NOW, RULES)
    assert long_down == Pause(NOW + DOWN_CHECK_MAX_SECONDS)
    paused = after(JobHistory(1), ServerDown("refused"), long_down, NOW)
    assert paused.attempts == 0 and paused.backend_downs == 1


def test_backoff_doubles_up_to_its_cap_and_never_falls_below_half() -> None:
    assert [backoff_delay(n, 2.0, 10.0, jitter=1.0) for n in (1, 2, 3, 4)] == [2, 4, 8, 10]
    assert [backoff_delay(n, 2.0, 10.0, jitter=0.0) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]


# --- carrying a decision out (the one executor of jobs, chunks and transcribe) -----------


def test_a_try_that_spends_no_attempt_gives_it_back_and_never_below_zero() -> None:
    step = carry_out(JobHistory(attempts=2), RateLimited("slow down", retry_after=5), NOW, RULES)
    assert (step.attempts, step.at) == (1, NOW + 5)
    assert step.store_fields() == {
        "attempts": 1,
        "error": "slow down",
        "next_attempt_at": NOW + 5,
        "future": None,
        "error_detail": None,
    }
    assert give_back(0) == 0
    down = carry_out(JobHistory(attempts=0), ServerDown("refused"), NOW, RULES)
    assert isinstance(down.decision, Pause) and down.attempts == 0


def test_a_try_that_spends_its_attempt_keeps_it_and_the_next_history_follows() -> None:
    step = carry_out(JobHistory(attempts=1), Retryable("crash"), NOW, RULES, jitter=0.0)
    assert isinstance(step.decision, Retry) and step.attempts == 1
    assert step.history == after(JobHistory(attempts=1), Retryable("crash"), step.decision, NOW)


def test_giving_up_says_so_once_in_one_sentence_with_the_detail_kept() -> None:
    error = Retryable("The engine crashed.", detail="Traceback ...")
    step = carry_out(JobHistory(attempts=3), error, NOW, RULES)
    assert step.at is None
    assert str(step.error) == "Gave up after 3 attempts: The engine crashed."
    assert isinstance(step.error, Permanent) and step.error.detail == "Traceback ..."
    # A refusal is no giving up: it fails as it is, in its own words.
    refused = BadInput("The file is empty.")
    assert carry_out(JobHistory(attempts=1), refused, NOW, RULES).error is refused


def test_a_part_that_fails_names_its_time_range_and_keeps_its_kind() -> None:
    where = "The part from 0:00 to 10:00"
    tired = carry_out(JobHistory(attempts=3), Retryable("crash"), NOW, RULES, where=where)
    assert str(tired.error) == "The part from 0:00 to 10:00 failed after 3 attempts: crash"
    refused = carry_out(JobHistory(attempts=1), BadInput("no audio"), NOW, RULES, where=where)
    assert isinstance(refused.error, BadInput)
    assert str(refused.error) == "The part from 0:00 to 10:00 failed: no audio"
