"""Test-wide settings. Hypothesis's 200 ms deadline is a timing test, not a correctness one: on a busy 2-core CI
machine it fails property tests whose every example is right, so it is off for all of them."""

from hypothesis import settings

settings.register_profile("tooljudge", deadline=None)
settings.load_profile("tooljudge")
