import pytest

from tokens.clock import FakeClock


@pytest.fixture
def clock():
    return FakeClock()
