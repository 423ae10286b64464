"""thinktime: reasoning with inference-time compute, with a compute bill on every answer.

>>> import thinktime
>>> result = thinktime.solve("What is 2+3?", strategy="self_consistency", n=4)  # doctest: +SKIP
>>> result.answer, result.bill.flops  # doctest: +SKIP
"""

from thinktime.api import solve
from thinktime.errors import ThinktimeError
from thinktime.sampling import SamplingParams
from thinktime.types import Bill, Result, Sample

__all__ = ["Bill", "Result", "Sample", "SamplingParams", "ThinktimeError", "solve"]
__version__ = "0.1.0"
