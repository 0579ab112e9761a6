"""Independent oracles: the rules the suites check PyTorch against.

Nothing in this package calls the code under test. The oracles are written
from the documented rules (see each module's sources), in pure Python or in
NumPy float64. ``torch`` appears only to move data in and out
(:func:`to_float64`), never to compute an expectation.
"""

from conformance.oracle.arrays import to_float64

__all__ = ["to_float64"]
