"""`diptych up --database`: the address is checked before anything starts (no server needed)."""

from __future__ import annotations

import pytest

from flows.database import check_database_url, database_environment
from pipeline.errors import ServiceError


@pytest.mark.parametrize(("url", "says"), [
    ("sqlite:///prefect.db", "must start with postgresql+asyncpg://"),
    ("postgresql://diptych@db/prefect", "must start with postgresql+asyncpg://"),
    ("postgresql+asyncpg://diptych:s3cret@db/prefect", "keep the password out of the address"),
    ("postgresql+asyncpg://diptych@db", "name the host and the database"),
    ("postgresql+asyncpg://diptych@db:port/prefect", "not an address"),
])
def test_a_wrong_address_is_one_line_without_the_password(url, says):
    with pytest.raises(ServiceError) as caught:
        check_database_url(url)
    message = str(caught.value)
    assert says in message and "\n" not in message and "s3cret" not in message


def test_a_good_address_goes_to_the_server_only_when_given():
    url = "postgresql+asyncpg://diptych@db.example.org:5432/prefect"
    assert check_database_url(url) == url
    assert database_environment(url) == {"PREFECT_SERVER_DATABASE_CONNECTION_URL": url}
    assert database_environment(None) == {}
