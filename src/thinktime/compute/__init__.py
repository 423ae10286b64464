"""The compute bill: tokens, FLOPs, seconds and dollars attached to every result."""

from thinktime.compute.bill import Bill, Ledger
from thinktime.compute.flops import attention_flops, generation_flops
from thinktime.compute.prices import Price, PriceTable, load_prices

__all__ = [
    "Bill",
    "Ledger",
    "Price",
    "PriceTable",
    "attention_flops",
    "generation_flops",
    "load_prices",
]
