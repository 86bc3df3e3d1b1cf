"""The compiled executor: graphql-core's answer without its per-field cost."""

from gateway.executor.cache import CompiledExecutor
from gateway.executor.compile import Fallback

__all__ = ["CompiledExecutor", "Fallback"]
