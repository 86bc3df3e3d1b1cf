"""The kernel: what every part of JointGate shares, and nothing else.

Types of a request and its audit record (:mod:`kernel.types`), the error tree clients see
(:mod:`kernel.errors`), the configuration error and checker (:mod:`kernel.config`), the
identifier checks of every agency's numbers (:mod:`kernel.identifiers`), the masks that show
them partly (:mod:`kernel.masks`) and the rules for header text (:mod:`kernel.text`).

The kernel is the bottom floor: it imports no other package of the project, and every other
package may import it (docs/architecture.md, "Layers"; tests/test_layers.py checks it).
"""
