"""The container tests run on the same generated shop as the embedded pipeline tests."""

from tests.pipelines.conftest import shop_data  # noqa: F401 - a fixture shared with pipelines
