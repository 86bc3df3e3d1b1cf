"""Risk signals and fund tracing (issue 19): what the sources say together.

Floor 1, beside ``connectors/`` and ``audit/``: pure computation over records and ledgers,
importing only ``kernel``. ``model.py`` is the shared vocabulary; ``settings.py`` the
``[signals]`` table (windows, thresholds, tracing caps); ``flows.py`` the flow-pattern
detectors; ``credit.py`` the credit-reference rules. The GraphQL surface (``riskSignals``,
``traceFunds``) is in ``schema/``; docs/signals.md is the guide.
"""
