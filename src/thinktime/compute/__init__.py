"""The compute bill: tokens, FLOPs, seconds and dollars attached to every result."""

from thinktime.compute.flops import attention_flops, generation_flops
from thinktime.compute.ledger import Ledger
from thinktime.compute.prices import Price, PriceTable, load_prices
from thinktime.types import Bill

__all__ = [
    "Bill",
    "Ledger",
    "Price",
    "PriceTable",
    "attention_flops",
    "generation_flops",
    "load_prices",
]
