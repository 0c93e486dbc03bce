"""The `--snapshot-on` condition language: what parses, what is refused and why, and when a
condition holds."""

from dataclasses import replace

import pytest

from memtui.capture_conditions import ConditionError, LeakCondition, Reading, parse_condition
from memtui.verdict import leak_verdict
from tests.test_verdict import series
from tests.ui.fake_monitor import MIB, make_sample

SAMPLE = replace(make_sample(0), heap_used=1600 * MIB, heap_total=1700 * MIB, rss=2000 * MIB,
                 external=10 * MIB, array_buffers=MIB, heap_limit=2048 * MIB)


@pytest.mark.parametrize("text, metric, comparator, size, share, normal", [
    ("heap_used>1.5GiB", "heap_used", ">", 1536 * MIB, None, "heap_used>1.5GiB"),
    (" rss >= 800 MB ", "rss", ">=", 800_000_000, None, "rss>=800MB"),
    ("external>512kib", "external", ">", 512 * 1024, None, "external>512kib"),
    ("array_buffers>=2KB", "array_buffers", ">=", 2000, None, "array_buffers>=2KB"),
    ("heap_total>0B", "heap_total", ">", 0, None, "heap_total>0B"),
    ("rss>90%limit", "rss", ">", None, 90.0, "rss>90%limit"),
    ("heap_after_gc >= 75.5 % LIMIT", "heap_after_gc", ">=", None, 75.5,
     "heap_after_gc>=75.5%limit"),
])
def test_conditions_parse_into_metric_comparator_and_threshold(text, metric, comparator, size,
                                                               share, normal):
    condition = parse_condition(text)
    assert (condition.metric, condition.comparator, condition.size,
            condition.share_of_limit, condition.text) == (metric, comparator, size, share,
                                                          normal)


@pytest.mark.parametrize("text, says", [
    ("", "not a condition"),
    ("heap_usd>1GiB", "unknown metric 'heap_usd'"),
    ("heap_used<1GiB", "comparator '<' in 'heap_used<1GiB': only > and >="),
    ("heap_used=1GiB", "comparator '='"),
    ("heap_used 1GiB", "no comparator"),
    ("heap_used>1500", "not a size or share of the limit: '1500'"),
    ("heap_used>1.5TiB", "not a size or share of the limit: '1.5TiB'"),
    ("heap_used>-1GiB", "not a size or share of the limit: '-1GiB'"),
    ("external>50%limit", "external has no limit"),
    ("rss>0%limit", "above 0 and at most 100%"),
    ("rss>101%limit", "above 0 and at most 100%"),
    ("rss>90%", "not a size or share of the limit: '90%'"),
    ("1GiB<heap_used", "not a condition"),
])
def test_a_bad_condition_says_what_is_wrong_and_what_is_accepted(text, says):
    with pytest.raises(ConditionError) as raised:
        parse_condition(text)
    message = str(raised.value)
    assert says in message
    assert "accepted: METRIC>SIZE, METRIC>=SIZE or METRIC>N%limit" in message
    assert "\n" not in message


@pytest.mark.parametrize("text, after_gc, container_limit, evidence", [
    ("heap_used>1.5GiB", None, None, "heap used 1.6 GiB > 1.5 GiB"),
    ("heap_used>1600MiB", None, None, None),
    ("heap_used>=1600MiB", None, None, "heap used 1.6 GiB >= 1.6 GiB"),
    ("heap_used>75%limit", None, None, "heap used 1.6 GiB > 1.5 GiB (75% of the limit)"),
    ("heap_total>85%limit", None, None, None),
    ("rss>90%limit", None, 2048 * MIB, "RSS 2.0 GiB > 1.8 GiB (90% of the limit)"),
    ("rss>90%limit", None, None, None),
    ("rss>99%limit", None, 2048 * MIB, None),
    ("external>=10MiB", None, None, "external 10.0 MiB >= 10.0 MiB"),
    ("array_buffers>1MiB", None, None, None),
    ("heap_after_gc>1GiB", None, None, None),
    ("heap_after_gc>1GiB", 1200 * MIB, None, "heap after GC 1.2 GiB > 1.0 GiB"),
    ("heap_after_gc>50%limit", 900 * MIB, None, None),
])
def test_a_condition_holds_with_its_evidence_or_not(text, after_gc, container_limit,
                                                    evidence):
    reading = Reading(SAMPLE, after_gc, container_limit)
    assert parse_condition(text).evidence(reading) == evidence


def test_only_a_share_of_the_rss_limit_needs_a_container_limit():
    assert parse_condition("rss>90%limit").needs_container_limit
    assert not parse_condition("rss>1GiB").needs_container_limit
    assert not parse_condition("heap_used>90%limit").needs_container_limit


def test_leak_holds_when_the_leak_verdict_over_the_window_is_a_leak():
    assert parse_condition(" leak ") == LeakCondition()
    leaking = series([20 * MIB + i * 0.5 * MIB for i in range(10)])
    flat = series([20 * MIB] * 10)
    leak = parse_condition("leak")
    assert leak.evidence(Reading(leaking[-1], None, None, leak_verdict(leaking))) == (
        "heap leak: heap after GC +10.0 MiB/min (10 major GCs over 27s, 9 rises in a row)")
    assert leak.evidence(Reading(flat[-1], None, None, leak_verdict(flat))) is None
    early = leaking[:9]
    assert leak.evidence(Reading(early[-1], None, None, leak_verdict(early))) is None
    assert leak.evidence(Reading(leaking[-1], None, None, None)) is None
