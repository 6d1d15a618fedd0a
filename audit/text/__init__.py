"""Text inputs: term-swap flip tests (audit.text.swaps) for models that read text."""

from audit.text.swaps import (
    SwapFamily,
    SwapPair,
    SwapResult,
    family_versions,
    load_families,
    merge_families,
    swap_text,
    swap_texts,
)

__all__ = [
    "SwapFamily",
    "SwapPair",
    "SwapResult",
    "family_versions",
    "load_families",
    "merge_families",
    "swap_text",
    "swap_texts",
]
