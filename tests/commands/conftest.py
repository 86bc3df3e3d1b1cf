"""The command-line tools are tested against the same live stores and policy copies as the
packages they drive: their fixtures, shared here."""

from tests.audit.conftest import config, live, small_buckets
from tests.policies.conftest import database, policy_copy

__all__ = ["config", "database", "live", "policy_copy", "small_buckets"]
