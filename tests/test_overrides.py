"""The shared rules for vendor overrides and renamed keywords."""

from __future__ import annotations

import pytest

from apunto_connect._overrides import warn_renamed


def test_a_renamed_keyword_warns_at_the_line_that_still_uses_it():
    def provider(**former: object) -> None:
        warn_renamed("SomeProvider", "old_name", "new_name")

    with pytest.warns(DeprecationWarning, match=r"SomeProvider\(old_name=\.\.\.\).*new_name=") as caught:
        provider(old_name=1)
    assert caught[0].filename == __file__
