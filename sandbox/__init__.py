"""The five member agencies' systems, simulated over one deterministic synthetic world.

See docs/sandbox.md for the contract. Entry points:

- :func:`sandbox.world.generate` builds the world (generators in :mod:`sandbox.synth`);
- ``create_app(world, faults)`` in :mod:`sandbox.police`, :mod:`sandbox.market`,
  :mod:`sandbox.banking`, :mod:`sandbox.courts` and :mod:`sandbox.credit` (SOAP 1.1) builds
  one agency's ASGI app;
- :func:`sandbox.runner.serve_sandbox` serves all five; :func:`sandbox.cli.run_sandbox` is
  ``jointgate sandbox``.

Shared mechanisms live once: fault knobs and statistics (:mod:`sandbox.faults`), errors and
request parsing (:mod:`sandbox.http`), field selection (:mod:`sandbox.fields`) and paging
(:mod:`sandbox.paging`).
"""
