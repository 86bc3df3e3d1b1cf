"""The compiled executor: graphql-core's answer without its per-field cost."""

from gateway.executor.run import CompiledExecutor, Fallback

__all__ = ["CompiledExecutor", "Fallback"]
